"""Customer profile reads: p50/p99 on a cache hit and on a miss, and the hit ratio under a
realistic mix of customers.

    python -m bench.profile_load [--requests 4000] [--concurrency 8] [--zipf 1.1]
                                 [--as staff|customer]

The stack of bench/stack.py (mongod, the simulators, one gateway worker), each in its own
process. Every read is staff's `customer(id:)` with the profile's fields (so each read also
writes its audit row, a journaled majority write, as staff reads do); with `--as customer`
it is each customer's own `me`, with their own token, which writes none. Three phases,
each customer in at most one:

1. miss: `--cold` customers never read before, each read once (every read assembles the
   profile from the CRM, POS and e-commerce simulators and caches it);
2. hit: the same customers again, within the soft TTL (every read is served from MongoDB);
   then once more through a plain kept-alive socket per worker, the request written and
   the answer read by hand, as wrk does (`hit_lean_client`): httpx's own work per request
   (about a millisecond here) is the client's, not the gateway's, and stays off that figure;
3. mix: `--requests` reads of the remaining contacts drawn with Zipf-like popularity
   (weight 1/rank^s, ranks shuffled), from an empty cache: the hit ratio is the gateway's
   own count (omnigate_cache_lookups_total); latencies are split by whether the read was
   the first of its customer (a miss) or not (a hit).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tempfile
import time
from pathlib import Path

import httpx

from bench.stack import cpu_seconds, running_stack
from sandbox.dataset import build_dataset

FIELDS = """id givenName familyName email phone emailOptIn externalRefs { system id }
  loyalty { balance lifetimePoints tier } identityConflicts { field contactIds }"""
PROFILE = f"query ($id: ID!) {{ customer(id: $id) {{ {FIELDS} }} }}"
# a shopper's own profile (`--as customer`): the same fields, no audit row
OWN_PROFILE = f"{{ me {{ {FIELDS} }} }}"
WARM_UP = 50


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "reads": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
    }


async def staff_token(client: httpx.AsyncClient, issuer: str, store_id: str) -> str:
    response = await client.post(
        issuer + "/dev/token",
        json={"kind": "staff", "store_id": store_id, "subject": "bench-staff"},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def cache_lookups(client: httpx.AsyncClient) -> dict[str, float]:
    """The gateway's profile cache lookups by result so far."""
    counts: dict[str, float] = {}
    prefix = 'omnigate_cache_lookups_total{cache="profile",result="'
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(prefix):
            result = line[len(prefix) :].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


async def customer_token(client: httpx.AsyncClient, issuer: str, contact_id: str) -> str:
    response = await client.post(
        issuer + "/dev/token", json={"kind": "customer", "subject": contact_id}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class Reader:
    """How one customer's profile is read: by staff (`customer(id:)`, audited), or by the
    customer (`me`, with a token minted for each before anything is timed)."""

    def __init__(self, client: httpx.AsyncClient, issuer: str, store_id: str, as_: str) -> None:
        self._client, self._issuer, self._store_id, self.as_ = client, issuer, store_id, as_
        self._staff: dict[str, str] = {}
        self._tokens: dict[str, str] = {}

    async def prepare(self, ids: list[str]) -> None:
        if self.as_ == "staff":
            token = await staff_token(self._client, self._issuer, self._store_id)
            self._staff = {"authorization": f"Bearer {token}"}
            return
        for customer_id in ids:
            if customer_id not in self._tokens:
                token = await customer_token(self._client, self._issuer, customer_id)
                self._tokens[customer_id] = token

    def request(self, customer_id: str) -> tuple[dict[str, object], dict[str, str]]:
        """(the body, the headers) of one read."""
        if self.as_ == "staff":
            return {"query": PROFILE, "variables": {"id": customer_id}}, self._staff
        headers = {"authorization": f"Bearer {self._tokens[customer_id]}"}
        return {"query": OWN_PROFILE}, headers


async def read_all(
    client: httpx.AsyncClient, reader: Reader, ids: list[str], concurrency: int
) -> list[float]:
    """Each id read in turn by `concurrency` workers; each read's latency, in that order."""
    latencies = [0.0] * len(ids)
    queue = iter(enumerate(ids))
    field = "customer" if reader.as_ == "staff" else "me"

    async def worker() -> None:
        for index, customer_id in queue:
            body_sent, headers = reader.request(customer_id)
            started = time.perf_counter()
            response = await client.post("/graphql", json=body_sent, headers=headers)
            latencies[index] = time.perf_counter() - started
            body = response.json()
            if body.get("errors") or (body.get("data") or {}).get(field) is None:
                raise RuntimeError(f"read of {customer_id} failed: {body}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def read_all_lean(
    gateway_url: str, reader: Reader, ids: list[str], concurrency: int
) -> list[float]:
    """`read_all` through one kept-alive socket per worker, without a client library: the
    request's bytes made before the clock starts, the answer's head and body read whole."""
    host, port = httpx.URL(gateway_url).host, httpx.URL(gateway_url).port
    latencies = [0.0] * len(ids)
    queue = iter(enumerate(ids))
    field = "customer" if reader.as_ == "staff" else "me"

    async def worker() -> None:
        stream_in, stream_out = await asyncio.open_connection(host, port)
        try:
            for index, customer_id in queue:
                body_sent, headers = reader.request(customer_id)
                payload = json.dumps(body_sent).encode()
                head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                request = (
                    f"POST /graphql HTTP/1.1\r\nhost: {host}\r\n{head}"
                    f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
                ).encode() + payload
                started = time.perf_counter()
                stream_out.write(request)
                answer_head = await stream_in.readuntil(b"\r\n\r\n")
                length = _content_length(answer_head)
                answer = await stream_in.readexactly(length)
                latencies[index] = time.perf_counter() - started
                body = json.loads(answer)
                if body.get("errors") or (body.get("data") or {}).get(field) is None:
                    raise RuntimeError(f"read of {customer_id} failed: {body}")
        finally:
            stream_out.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError(f"an answer without Content-Length: {head!r}")


async def load(
    gateway_url: str,
    issuer: str,
    *,
    requests: int,
    concurrency: int,
    zipf: float,
    cold: int,
    as_: str = "staff",
) -> dict[str, object]:
    dataset = build_dataset()
    contacts = [c.id for c in dataset.crm_contacts]
    random.Random(7).shuffle(contacts)
    warm, cold_ids, population = (
        contacts[:WARM_UP],
        contacts[WARM_UP : WARM_UP + cold],
        contacts[WARM_UP + cold :],
    )
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, limits=limits) as client:
        rng = random.Random(11)
        weights = list(
            itertools.accumulate(1 / rank**zipf for rank in range(1, len(population) + 1))
        )
        drawn = rng.choices(population, cum_weights=weights, k=requests)
        reader = Reader(client, issuer, dataset.stores[0].id, as_)
        await reader.prepare([*warm, *cold_ids, *drawn])
        await read_all(client, reader, warm, concurrency)  # pools, sessions, JIT-less caches

        miss = await read_all(client, reader, cold_ids, concurrency)
        hit = await read_all(client, reader, cold_ids, concurrency)
        hit_lean = await read_all_lean(gateway_url, reader, cold_ids, concurrency)

        before = await cache_lookups(client)
        started = time.monotonic()
        mixed = await read_all(client, reader, drawn, concurrency)
        elapsed = time.monotonic() - started
        after = await cache_lookups(client)
    counted = {result: after.get(result, 0) - before.get(result, 0) for result in after}
    lookups = sum(counted.values())
    seen: set[str] = set()
    mix_hits, mix_misses = [], []
    for customer_id, latency in zip(drawn, mixed, strict=True):
        (mix_hits if customer_id in seen else mix_misses).append(latency)
        seen.add(customer_id)
    return {
        "miss": summary(miss),
        "hit": summary(hit),
        "hit_lean_client": summary(hit_lean),
        "mix": {
            **summary(mixed),
            "distinct_customers": len(seen),
            "hit_ratio": round(counted.get("hit", 0) / lookups, 3) if lookups else None,
            "lookups": {k: int(v) for k, v in sorted(counted.items())},
            "first_reads": summary(mix_misses),
            "repeat_reads": summary(mix_hits),
            "reads_per_second": round(len(mixed) / elapsed, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--requests", type=int, default=4000, help="reads in the mix")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--zipf", type=float, default=1.1, help="popularity exponent s")
    parser.add_argument("--cold", type=int, default=300, help="customers of the hit/miss phases")
    parser.add_argument(
        "--as",
        dest="as_",
        choices=("staff", "customer"),
        default="staff",
        help="staff's audited customer(id:), or each customer's own me",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), scale=1.0) as stack:
        cpu_before = cpu_seconds(stack.gateway_pid)
        figures = asyncio.run(
            load(
                stack.gateway_url,
                stack.identity_url,
                requests=args.requests,
                concurrency=args.concurrency,
                zipf=args.zipf,
                cold=args.cold,
                as_=args.as_,
            )
        )
        cpu = cpu_seconds(stack.gateway_pid) - cpu_before
    reads = WARM_UP + 3 * args.cold + args.requests
    figures["gateway_cpu_ms_per_read"] = round(cpu * 1000 / reads, 2)
    for phase, value in figures.items():
        if isinstance(value, dict):
            print(phase)
            for key, item in value.items():
                print(f"  {key:<20} {item}")
        else:
            print(f"{phase:<22} {value}")


if __name__ == "__main__":
    main()
