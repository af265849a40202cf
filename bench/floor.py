"""What the product page costs before omnigate's own work: the floor under issue 21's
targets, measured on this machine.

    python -m bench.floor [--seconds 8]

Runs the stack of bench/stack.py with Square and Shopify recorded (as `bench.lone_request`
and `products_load --recorded` do) and measures, each at one connection (p50, less the
two hops' p50s where there are hops) and at 32 connections (the server process's CPU per
request):

- `page`: the README's product query through the gateway;
- `typename`: `query Floor { __typename }` through the gateway: what every GraphQL request
  pays (uvicorn, the middlewares, the HTTP view, Strawberry's execution, the answer) and no
  upstream call;
- `plain`: bench/floor_app.py, plain Starlette under the same uvicorn, answering the page's
  bytes to any POST: uvicorn's and Starlette's share;
- `floor`: the same endpoint with the request read, the page's two upstream requests sent
  in turn through omnigate's transport, the page's answer written; no GraphQL and no
  decoding (`floor+decode`: both answers decoded with orjson);
- `least page`: `floor+decode` plus what `typename` adds over `plain`: the least the page
  can cost with this stack before a product is mapped or a field completed
  (bench/README.md);
- `mongodb, N-line cart`: this process's CPU per call for a cart add's one MongoDB command
  (a findAndModify answering the cart, its N lines decoded as the gateway decodes them)
  and for a read of one document by id, through a client made as the gateway makes it
  (gateway/mongo.py): the driver's share of a cart add and of a cached profile read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from pymongo import ReturnDocument

from bench.lone_request import HOPS, _script, p50_ms
from bench.products_load import QUERY
from bench.stack import _wait_until, cpu_seconds, running_stack
from gateway.local_mongod import LocalMongod, free_port, stop_process
from gateway.mongo import connect_mongo

TYPENAME = "query Floor { __typename }"


def cpu_ms_at_32(url: str, script: Path, pid: int, seconds: int) -> float:
    """The server's CPU per request under wrk at 32 connections, after a 3 s warm-up."""
    wrk = ["wrk", "-t2", "-c32", "-s", str(script), url]
    subprocess.run([*wrk, "-d3s"], capture_output=True, check=True)
    before = cpu_seconds(pid)
    output = subprocess.run([*wrk, f"-d{seconds}s"], capture_output=True, text=True, check=True)
    after = cpu_seconds(pid)
    requests = int(output.stdout.split(" requests in")[0].split()[-1])
    return round((after - before) * 1000 / requests, 3)


def _floor_app(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """bench/floor_app.py under uvicorn, and its URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
         "--no-access-log"],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/floor"
    try:
        _wait_until(url, process, timeout=30)  # a GET: 405 once it listens
    except RuntimeError:
        stop_process(process)
        raise
    return process, url


def measure(seconds: int, tmp: Path) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    with running_stack(tmp / "stack", scale=1.0, recorded=True) as stack:
        graphql = stack.gateway_url + "/graphql"
        for _ in range(3):  # records the answers; the caches fill
            answer = httpx.post(graphql, json={"query": QUERY}, timeout=30)
            assert "errors" not in answer.json(), answer.text
        (tmp / "page.json").write_bytes(answer.content)
        hops = []
        for vendor, is_hop in HOPS.items():  # Shopify's search first, then Square's counts
            base = stack.upstream_urls[vendor]
            hop = next(r for r in httpx.get(base + "/_recorded").json() if is_hop(r))
            hops.append((hop["method"], base + hop["target"], hop["body"]))
        hop_p50s = [
            p50_ms(url, _script(tmp / f"hop{i}.lua", method, body), seconds)
            for i, (method, url, body) in enumerate(hops)
        ]
        above = sum(hop_p50s)
        for name, query, hops_waited in (("page", QUERY, above), ("typename", TYPENAME, 0.0)):
            script = _script(tmp / f"{name}.lua", "POST", json.dumps({"query": query}))
            p50_ms(graphql, script, 2)  # warm-up
            figures[name] = {
                "p50_above_hops_ms": p50_ms(graphql, script, seconds) - hops_waited,
                "cpu_ms_at_32": cpu_ms_at_32(graphql, script, stack.gateway_pid, seconds),
            }
        for name, decode, sent in (
            ("plain", "0", []),
            ("floor", "0", hops),
            ("floor+decode", "1", hops),
        ):
            env = {
                **os.environ,
                "FLOOR_HOPS": json.dumps(sent),
                "FLOOR_PAGE": str(tmp / "page.json"),
                "FLOOR_DECODE": decode,
            }
            process, url = _floor_app(env)
            try:
                script = _script(tmp / "floor.lua", "POST", json.dumps({"query": QUERY}))
                p50_ms(url, script, 2)  # warm-up
                figures[name] = {
                    "p50_above_hops_ms": p50_ms(url, script, seconds) - (above if sent else 0.0),
                    "cpu_ms_at_32": cpu_ms_at_32(url, script, process.pid, seconds),
                }
            finally:
                stop_process(process)
    figures["hops"] = {"p50_ms": above}
    # the page's floor: the plain page's cost, and what GraphQL adds to any request
    figures["least page"] = {
        key: figures["floor+decode"][key] + figures["typename"][key] - figures["plain"][key]
        for key in ("p50_above_hops_ms", "cpu_ms_at_32")
    }
    return figures


def _cart_document(lines: int) -> dict[str, Any]:
    """A customer's open cart shaped as commerce/cart/store.py writes it."""
    now = datetime.now(UTC)
    line = {"sku": "", "quantity": 1, "added_unit_price": {"amount": "19.99", "currency": "EUR"},
            "added_at": now, "needs_repricing": False}  # fmt: skip
    return {
        "_id": "cart_floor", "version": 1, "status": "OPEN", "customer_id": "c1",
        "lines": [{**line, "id": f"line{i}", "sku": f"SKU-{i:04d}"} for i in range(lines)],
        "promo_codes": [], "fulfillment": {"type": "DELIVERY"},
        "created_at": now, "updated_at": now, "active_customer_id": "c1",
    }  # fmt: skip


async def _driver_cpu_ms(uri: str, calls: int, lines: int) -> dict[str, float]:
    """This process's CPU per call (the driver's share; mongod's is its own process) for
    a cart add's one command, a findAndModify answering the cart of `lines` lines, and a
    read of one document by id, through a client made as the gateway makes it."""
    client = connect_mongo(uri, 5.0)
    carts = client["floor"]["carts"]
    await carts.replace_one({"_id": "cart_floor"}, _cart_document(lines), upsert=True)

    async def write() -> object:
        return await carts.find_one_and_update(
            {"_id": "cart_floor", "status": "OPEN"},
            {
                "$inc": {"version": 1, "lines.0.quantity": 1},
                "$set": {"updated_at": datetime.now(UTC)},
            },
            return_document=ReturnDocument.AFTER,
        )

    async def read() -> object:
        return await carts.find_one({"_id": "cart_floor"}, {"version": 1})

    figures = {}
    try:
        for name, call in (("cart write", write), ("read by id", read)):
            for _ in range(100):
                await call()
            started = time.process_time()
            for _ in range(calls):
                await call()
            figures[name] = (time.process_time() - started) * 1000 / calls
    finally:
        await client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=2000, help="MongoDB calls timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(args.seconds, Path(tmp))
        with LocalMongod(Path(tmp) / "mongodb") as mongod:
            for lines in (1, 50):
                driver = uvloop.run(_driver_cpu_ms(mongod.uri, args.calls, lines))
                figures[f"mongodb, {lines}-line cart"] = {
                    f"{name} cpu_ms": value for name, value in driver.items()
                }
    for name, values in figures.items():
        shown = "  ".join(f"{key} {value:.3f}" for key, value in values.items())
        print(f"{name:<14} {shown}")


if __name__ == "__main__":
    main()
