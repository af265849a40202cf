"""The 20-products-with-stock query under load: requests/s, latency, gateway CPU per request
and upstream calls per request.

    python -m bench.products_load [--seconds 20] [--connections 32] [--scale 1]
                                  [--transport http1|aiohttp|httpx] [--lean] [--recorded]

wrk (Debian package `wrk`) drives the load from its own process; the gateway runs one
worker in its own process, the sandbox vendors in another, so the CPU figure is the
gateway's alone. `--recorded` puts bench/recorded_upstreams.py between the gateway and
Square's and Shopify's simulators: their answers are recorded once and replayed, so the
gateway rather than the simulators is the bottleneck (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.stack import cpu_seconds, running_stack
from gateway.settings import TRANSPORT_NAMES, HttpSettings

QUERY = """query TwentyProductsWithStock {
  products(first: 20) {
    edges { node {
      sku name price { amount currency }
      availability { online { quantity } stores(first: 5) { store { id name } quantity } }
    } }
  }
}"""
# The same products with online stock only: no per-store rows (~120 fields, not ~600).
LEAN_QUERY = """query TwentyProductsWithOnlineStock {
  products(first: 20) {
    edges { node { sku name price { amount currency } availability { online { quantity } } } }
  }
}"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""


def upstream_calls(metrics_text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("omnigate_upstream_requests_total{")
    )


def graphql_requests(metrics_text: str) -> float:
    pattern = re.compile(
        r"^omnigate_http_request_duration_seconds_count"
        r'\{method="POST",route="/graphql",status="200"\} (\S+)$',
        re.M,
    )
    match = pattern.search(metrics_text)
    return float(match.group(1)) if match else 0.0


def _latency(output: str, label: str) -> str:
    match = re.search(rf"^\s+{label}\s+(\S+)", output, re.M)
    return match.group(1) if match else "?"


def run(
    seconds: int,
    connections: int,
    scale: float,
    transport: str,
    query: str = QUERY,
    *,
    recorded: bool = False,
) -> dict[str, object]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), scale=scale, transport=transport, recorded=recorded) as stack,
    ):
        url = stack.gateway_url + "/graphql"
        warm = httpx.post(url, json={"query": query}, timeout=30)
        assert "errors" not in warm.json(), warm.text
        if recorded:  # every upstream answer now comes from the record: the same page
            again = httpx.post(url, json={"query": query}, timeout=30)
            assert again.json() == warm.json(), "replayed answers changed the page"
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(json.dumps({"query": query}))))
        # warm-up: caches, JIT-free but pools and allocator settle
        subprocess.run(["wrk", "-t2", f"-c{connections}", "-d3s", "-s", str(script), url],
                       capture_output=True, check=True)  # fmt: skip
        before_metrics = httpx.get(stack.gateway_url + "/metrics").text
        cpu_before = cpu_seconds(stack.gateway_pid)
        sandbox_before = cpu_seconds(stack.sandbox_pid)
        load = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
        result = subprocess.run(
            [*load, url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        cpu_after = cpu_seconds(stack.gateway_pid)
        sandbox_after = cpu_seconds(stack.sandbox_pid)
        after_metrics = httpx.get(stack.gateway_url + "/metrics").text
    output = result.stdout
    requests = graphql_requests(after_metrics) - graphql_requests(before_metrics)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "query": query.split("{", 1)[0].removeprefix("query ").strip(),
        "connections": connections,
        "seconds": seconds,
        "transport": transport,
        "upstreams": "recorded" if recorded else "sandbox",
        "requests": int(requests),
        "requests_per_second": round(requests / seconds, 1),
        "p50": _latency(output, "50%"),
        "p99": _latency(output, "99%"),
        "gateway_cpu_ms_per_request": round((cpu_after - cpu_before) * 1000 / max(requests, 1), 2),
        # the simulators' own CPU, beside the gateway's on this machine (~0 when recorded)
        "sandbox_cpu_ms_per_request": round(
            (sandbox_after - sandbox_before) * 1000 / max(requests, 1), 2
        ),
        "upstream_calls_per_request": round(
            (upstream_calls(after_metrics) - upstream_calls(before_metrics)) / max(requests, 1), 2
        ),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--transport", choices=TRANSPORT_NAMES, default=HttpSettings().transport)
    parser.add_argument("--lean", action="store_true", help="online stock only, no store rows")
    parser.add_argument(
        "--recorded",
        action="store_true",
        help="Square and Shopify answers recorded from the sandbox and replayed (gateway-bound)",
    )
    args = parser.parse_args()
    query = LEAN_QUERY if args.lean else QUERY
    figures = run(
        args.seconds, args.connections, args.scale, args.transport, query, recorded=args.recorded
    )
    for key, value in figures.items():
        print(f"{key:<30} {value}")


if __name__ == "__main__":
    main()
