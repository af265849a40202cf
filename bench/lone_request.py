"""A lone shopper's product page: the gateway's p50 above the upstream hops it waits on.

    python -m bench.lone_request [--seconds 15] [--delays 0 5]

Most of a store's day the gateway is not busy, and what a shopper waits for is one
request's latency: the upstream hops plus the gateway's own fixed costs per request. This
runs the stack of bench/stack.py with Square and Shopify recorded (bench.recorded_upstreams)
and each answer held back by `--delays` milliseconds in turn (0: loopback only; 5: a
vendor a few milliseconds away). wrk sends the README's product query one at a time
(`-c1`) for `--seconds`; then it sends each of the page's two upstream requests, exactly
as the gateway sent them (the recorder lists them at `/_recorded`), one at a time, to the
same recorder. Printed per delay: the page's p50, each hop's p50, and the page's p50 less
the hops' sum, which is what the gateway adds.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.products_load import QUERY
from bench.stack import running_stack

# the page's two upstream calls, each recognised in the recorder's list
HOPS = {
    "shopify": lambda r: r["method"] == "POST" and "SearchProducts" in r["body"],
    "square": lambda r: r["target"].endswith("/v2/inventory/counts/batch-retrieve"),
}
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _script(path: Path, method: str, body: str) -> Path:
    path.write_text(
        f"wrk.method = {json.dumps(method)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    return path


def p50_ms(url: str, script: Path, seconds: int) -> float:
    """wrk's p50 at one connection, in milliseconds."""
    output = subprocess.run(
        ["wrk", "-t1", "-c1", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if match is None:
        raise SystemExit(f"no p50 in wrk's output:\n{output}")
    return float(match[1]) * UNITS_MS[match[2]]


def measure(delay_ms: float, seconds: int, tmp: Path) -> dict[str, float]:
    data = tmp / f"stack-{delay_ms}"
    with running_stack(data, scale=1.0, recorded=True, hop_delay_ms=delay_ms) as stack:
        page = stack.gateway_url + "/graphql"
        for _ in range(3):  # records the answers; the caches fill
            answer = httpx.post(page, json={"query": QUERY}, timeout=30).json()
            assert "errors" not in answer, answer
        page_script = _script(tmp / "page.lua", "POST", json.dumps({"query": QUERY}))
        p50_ms(page, page_script, 3)  # warm-up
        figures = {"page_p50_ms": p50_ms(page, page_script, seconds)}
        for vendor, is_hop in HOPS.items():
            base = stack.upstream_urls[vendor]
            found = [r for r in httpx.get(base + "/_recorded").json() if is_hop(r)]
            if len(found) != 1:
                raise SystemExit(f"{vendor}: {len(found)} recorded requests look like the page's")
            hop = found[0]
            script = _script(tmp / f"{vendor}.lua", hop["method"], hop["body"])
            figures[f"{vendor}_hop_p50_ms"] = p50_ms(base + hop["target"], script, seconds)
    hops = figures["shopify_hop_p50_ms"] + figures["square_hop_p50_ms"]
    figures["gateway_above_hops_ms"] = figures["page_p50_ms"] - hops
    return {key: round(value, 3) for key, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 5.0])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for delay in args.delays:
            figures = measure(delay, args.seconds, Path(tmp))
            print(f"hop delay {delay:g} ms")
            for key, value in figures.items():
                print(f"  {key:<24} {value}")


if __name__ == "__main__":
    main()
