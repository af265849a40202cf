"""The fixed cost of a request (issue 21): `{__typename}` and the product page through the
whole app, in one process, replayed upstreams.

    python -m bench.fixed_cost_inprocess [--query typename|page|lean] [--requests 1000]
                                         [--rounds 3]

`query Floor { __typename }` runs no resolver and calls no upstream: what it costs is what
every request pays before and after its own work (the ASGI middlewares, the HTTP view,
context and auth, `Schema.execute` with our extensions, the executor, metrics and the JSON
response). The app is driven as `bench.products_inprocess` drives it (no server, no
sockets), so uvicorn's share is not in the figure. For instructions, run it under
callgrind with one round (bench/README.md, "the fixed cost of a request"). Prints the CPU
milliseconds per request of each round and the smallest.
"""

from __future__ import annotations

import argparse

import httpx
import orjson
import uvloop

from bench.products_inprocess import (
    RecordThenReplay,
    asgi_post,
    cpu_ms_per_request,
    inprocess_stack,
)
from bench.products_load import LEAN_QUERY, QUERY
from gateway.app import create_app
from gateway.asgi import tune_garbage_collector
from gateway.http_transport import UpstreamClient
from gateway.settings import HttpSettings, Settings
from gateway.wiring.build import upstream_transport

QUERIES = {"typename": "query Floor { __typename }", "page": QUERY, "lean": LEAN_QUERY}


async def measure(settings: Settings, query: str, requests: int, rounds: int) -> list[float]:
    transport = RecordThenReplay(upstream_transport(HttpSettings().transport))
    client = UpstreamClient(transport=transport, timeout=httpx.Timeout(5.0))
    app = create_app(settings, http_client=client)
    post = asgi_post(app, orjson.dumps({"query": query}))
    async with app.router.lifespan_context(app):
        for _ in range(5):  # fills the caches; records the upstream answers
            answer = orjson.loads(await post())
        if "errors" in answer:
            raise SystemExit(f"the query failed: {answer['errors']}")
        transport.replaying = True
        for _ in range(50):
            await post()
        tune_garbage_collector()  # as `omnigate serve` does once the app is built
        return await cpu_ms_per_request(post, requests, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", choices=sorted(QUERIES), default="typename")
    parser.add_argument("--requests", type=int, default=1000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with inprocess_stack() as (settings, _sandbox):
        figures = uvloop.run(measure(settings, QUERIES[args.query], args.requests, args.rounds))
    rounds = " ".join(f"{figure:.3f}" for figure in figures)
    print(f"{'query':<30} {args.query}")
    print(f"{'gateway_cpu_ms_per_request':<30} {min(figures):.3f} (rounds: {rounds})")


if __name__ == "__main__":
    main()
