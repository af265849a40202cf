"""A soak: mixed traffic against one gateway worker for a long while, sampling what it holds
(memory, descriptors, connections) and how fast it answers, to see whether anything grows.

    python -m bench.soak [--minutes 30] [--sample-seconds 10] [--out bench/soak.json]
                         [--shoppers 3] [--readers 2] [--pause-ms 100]

The stack of bench/stack.py: a real mongod, the sandbox vendors in one process and the
gateway as one `omnigate serve` worker in its own. The traffic (bench/soak_traffic.py):
`--readers` loops of product pages and as many of staff profile reads, and `--shoppers`
customers each filling a cart, watched over a `cartUpdated` subscription, and checking it
out, again and again; every loop pauses about `--pause-ms` between requests, so the load is
steady and well under what the machine can serve. Every `--sample-seconds` the gateway
worker's RSS, open descriptors and TCP connections (clients, MongoDB, each upstream) are
read from /proc, with each traffic kind's count, p50, p99 and errors over that window.

Writes `--out` (every sample and a summary: memory at the start, end and max with its
slope per hour, descriptors and connections at the start and end, each kind's p99 in the
first and last window, the errors) and a PNG chart beside it (bench/soak_chart.py); a
progress bar runs on stderr meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.profile_load import staff_token
from bench.soak_chart import write_chart
from bench.soak_probe import ProcessProbe, rss_bytes
from bench.soak_traffic import Traffic, product_reader, profile_reader, shopper
from bench.soak_windows import KINDS, Outcomes, summarise
from bench.stack import Stack, cpu_seconds, running_stack
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset, build_dataset

REPO_ROOT = Path(__file__).resolve().parent.parent


def shopper_contacts(dataset: Dataset, count: int) -> list[str]:
    """CRM contacts with one CRM record, known to the POS and the online shop too, from the
    end of the dataset: customers whose online orders link to them everywhere."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos = {c.person_key for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    found = [
        contact.id
        for contact in reversed(dataset.crm_contacts)
        if crm_count[contact.person_key] == 1
        and contact.person_key in pos
        and contact.person_key in shop
    ]
    return found[:count]


def cart_skus(dataset: Dataset) -> list[str]:
    """50 SKUs with at least 300 units online: a long run never runs a line out of stock
    (orders in the sandbox claim no inventory, and a cart holds a few units)."""
    return [
        p.sku
        for p in dataset.products
        if dataset.inventory.get((p.square_variation_id, WAREHOUSE_LOCATION_ID), 0) >= 300
    ][:50]


async def customer_token(client: httpx.AsyncClient, issuer: str, contact: str, ttl: int) -> str:
    response = await client.post(
        issuer + "/dev/token", json={"kind": "customer", "subject": contact, "expires_in": ttl}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def peers_of(stack: Stack) -> dict[int, str]:
    """Port -> what listens there, for sorting the gateway's connections."""
    peers = {stack.mongod_port: "mongodb"}
    for name, url in stack.upstream_urls.items():
        port = urlsplit(url).port
        if port is not None:
            peers[port] = name
    return peers


class Progress:
    """A one-line bar on stderr, redrawn in place on a terminal; elsewhere (a log, CI) a
    line per sample."""

    def __init__(self, total_seconds: float) -> None:
        self.total = total_seconds
        self.tty = sys.stderr.isatty()
        self.status = "starting"

    def draw(self, elapsed: float, *, newline: bool = False) -> None:
        if not (self.tty or newline):
            return
        done = min(1.0, elapsed / self.total) if self.total else 1.0
        bar = "#" * round(done * 30)
        line = f"[{bar:<30}] {done:4.0%} {_clock(elapsed)}/{_clock(self.total)} {self.status}"
        sys.stderr.write(("\r\x1b[K" if self.tty else "") + line + ("\n" if not self.tty else ""))
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def _status(sample: dict[str, Any], errors: int) -> str:
    p99 = " ".join(
        f"{kind}={value['p99_ms']:.0f}"
        for kind, value in sample["traffic"].items()
        if value["p99_ms"] is not None
    )
    return (
        f"rss {sample['rss_bytes'] / 2**20:.1f} MB  fds {sample['open_fds']}  "
        f"p99 ms {p99}  errors {errors}"
    )


async def soak(
    stack: Stack,
    *,
    seconds: float,
    sample_seconds: float,
    shoppers: int,
    readers: int,
    pause: float,
) -> dict[str, Any]:
    dataset = build_dataset()
    probe = ProcessProbe(stack.gateway_pid, urlsplit(stack.gateway_url).port or 0, peers_of(stack))
    outcomes = Outcomes()
    progress = Progress(seconds)
    ttl = int(min(86400, seconds + 3600))
    limits = httpx.Limits(max_connections=2 * readers + shoppers)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, limits=limits) as client:
        staff = await staff_token(client, stack.identity_url, dataset.stores[0].id)
        customers = [
            await customer_token(client, stack.identity_url, contact, ttl)
            for contact in shopper_contacts(dataset, shoppers)
        ]
        idle = {
            "t": 0.0,
            **probe.sample(),
            "gateway_cpu_seconds": round(cpu_seconds(stack.gateway_pid), 2),
            "sandbox_cpu_seconds": round(cpu_seconds(stack.sandbox_pid), 2),
        }
        started = time.monotonic()
        traffic = Traffic(
            client,
            stack.gateway_url.replace("http://", "ws://") + "/graphql",
            outcomes,
            deadline=started + seconds,
            pause=pause,
        )
        skus = [p.sku for p in dataset.products]
        contacts = [c.id for c in dataset.crm_contacts]
        run_id = uuid.uuid4().hex[:8]
        loops = [
            *(product_reader(traffic, skus, seed) for seed in range(readers)),
            *(profile_reader(traffic, staff, contacts, 100 + seed) for seed in range(readers)),
            *(
                shopper(traffic, token, cart_skus(dataset), 200 + seed, run_id)
                for seed, token in enumerate(customers)
            ),
        ]
        running = asyncio.gather(*loops)
        samples: list[dict[str, Any]] = []

        def take_sample() -> None:
            elapsed = round(time.monotonic() - started, 2)
            sample = {
                "t": elapsed,
                **probe.sample(),
                "gateway_cpu_seconds": round(cpu_seconds(stack.gateway_pid), 2),
                # the simulators beside it: if latency grows, whose CPU grew with it
                "sandbox_cpu_seconds": round(cpu_seconds(stack.sandbox_pid), 2),
                "sandbox_rss_bytes": rss_bytes(stack.sandbox_pid),
                "loadavg_1m": os.getloadavg()[0],
                "traffic": outcomes.take().figures(),
            }
            samples.append(sample)
            progress.status = _status(sample, sum(outcomes.all_errors.values()))
            progress.draw(elapsed, newline=True)

        next_sample = started + sample_seconds
        # the last window ends when every loop has finished what it had started
        while next_sample < started + seconds - sample_seconds / 2:
            while (now := time.monotonic()) < next_sample:
                await asyncio.sleep(min(1.0, next_sample - now))
                progress.draw(time.monotonic() - started)
            if running.done():  # a loop failed: stop with its exception, not a quiet run
                running.result()
            take_sample()
            next_sample += sample_seconds
        while not running.done():
            await asyncio.wait([running], timeout=1.0)
            progress.draw(time.monotonic() - started)
        running.result()
        take_sample()
        progress.finish()
    return {"idle": idle, "samples": samples, "summary": summarise(idle, samples, outcomes)}


def _commit() -> str:
    found = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return found.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "soak.json")
    parser.add_argument("--shoppers", type=int, default=3, help="customers checking out")
    parser.add_argument("--readers", type=int, default=2, help="loops of each read kind")
    parser.add_argument("--pause-ms", type=float, default=100, help="between a loop's requests")
    args = parser.parse_args()
    seconds = args.minutes * 60
    if args.sample_seconds <= 0 or seconds < args.sample_seconds:
        parser.error("--minutes must cover at least one --sample-seconds window")
    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), scale=1.0) as stack:
        figures = asyncio.run(
            soak(
                stack,
                seconds=seconds,
                sample_seconds=args.sample_seconds,
                shoppers=args.shoppers,
                readers=args.readers,
                pause=args.pause_ms / 1000,
            )
        )
    commit = _commit()
    result = {
        "title": (
            f"omnigate soak, {args.minutes:g} min at {commit}, {started_at:%Y-%m-%d %H:%M} UTC "
            f"(one worker; {os.cpu_count()} cores shared with the stack and other work)"
        ),
        "command": " ".join(["python -m bench.soak", *sys.argv[1:]]),
        "commit": commit,
        "started_at": started_at.isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "sample_seconds": args.sample_seconds,
        "traffic": {
            "kinds": list(KINDS),
            "shoppers": args.shoppers,
            "readers_per_read_kind": args.readers,
            "pause_ms": args.pause_ms,
        },
        "cpu_count": os.cpu_count(),
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    chart = args.out.with_suffix(".png")
    write_chart(result, chart)
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {args.out} and {chart}")


if __name__ == "__main__":
    main()
