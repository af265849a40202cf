"""The 20-products-with-stock query's gateway CPU, measured in one process: steady enough to
compare two versions of the code on this noisy machine.

    python -m bench.products_inprocess [--requests 1000] [--rounds 3] [--live]
                                       [--transport http1|aiohttp|httpx]

The served benchmark (`bench.products_load`) is the figure the README reports, but the
2-core machine it runs on drifts by a third between runs (bench/README.md). Here the app
from `create_app` runs in this process, driven through ASGI without a server or sockets.
Its upstream answers are recorded from the sandbox on the first requests and replayed
after, so what is timed is the gateway's own work per request: the HTTP view, parsing and
validation (cached), execution, the connectors' mapping, the resilience policy and httpx's
request and response objects. Not timed: uvicorn, the upstream transport and the socket
round trips. `--live` sends every call to the sandbox instead, through `--transport`
(the gateway's default unless told; noisier).

Prints the CPU milliseconds per request of each round (the process's user+system time)
and the smallest, which is the least disturbed by the rest of the machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvloop
from starlette.applications import Starlette

from bench.products_load import QUERY
from bench.stack import Sandbox, running_sandbox
from gateway.app import create_app
from gateway.asgi import tune_garbage_collector
from gateway.http_transport import UpstreamClient
from gateway.http_wire import whole_response
from gateway.local_mongod import LocalMongod
from gateway.settings import TRANSPORT_NAMES, Environment, HttpSettings, Settings
from gateway.wiring.build import upstream_transport

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class RecordThenReplay(httpx.AsyncBaseTransport):
    """Passes calls to `inner` and records the answers; once `replaying`, answers a call it
    has seen (same method, URL and body) from the record, as the transport would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.replaying = False
        self.replayed = 0
        self._answers: dict[tuple[str, str, bytes], Answer] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, str(request.url), request.content)
        answer = self._answers.get(key) if self.replaying else None
        if answer is not None:
            self.replayed += 1
            status, headers, body = answer
            # as the gateway's transports hand an answer back: read whole (gateway/http_wire.py)
            return whole_response(request, status, b"", headers, body, len(body), encoded=False)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self._answers[key] = (response.status_code, response.headers.raw, response.content)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def asgi_post(
    app: Starlette, body: bytes, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> Callable[[], Awaitable[bytes]]:
    """A POST /graphql of `body` (with `extra_headers`, e.g. authorization) straight into
    the app; returns the response body."""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]

    async def post() -> bytes:
        sent: list[MutableMapping[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> MutableMapping[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
        return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    return post


async def cpu_ms_per_request(
    post: Callable[[], Awaitable[bytes]], requests: int, rounds: int
) -> list[float]:
    """Each round's CPU milliseconds (this process's user and system time) per request."""
    figures = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(requests):
            await post()
        figures.append((time.process_time() - started) * 1000 / requests)
    return figures


async def measure(
    settings: Settings, requests: int, rounds: int, live: bool, transport_name: str
) -> list[float]:
    transport = RecordThenReplay(upstream_transport(transport_name))
    client = UpstreamClient(transport=transport, timeout=httpx.Timeout(5.0))
    app = create_app(settings, http_client=client)
    post = asgi_post(app, orjson.dumps({"query": QUERY}))
    async with app.router.lifespan_context(app):
        for _ in range(5):  # fills the catalog, store and token caches; records the answers
            answer = orjson.loads(await post())
        if "errors" in answer:
            raise SystemExit(f"the query failed: {answer['errors']}")
        transport.replaying = not live
        for _ in range(50):
            await post()
        tune_garbage_collector()  # as `omnigate serve` does once the app is built
        figures = await cpu_ms_per_request(post, requests, rounds)
        if not live and transport.replayed < requests * rounds:
            raise SystemExit("some calls were not replayed: the figures include real calls")
    return figures


@contextmanager
def inprocess_stack() -> Iterator[tuple[Settings, Sandbox]]:
    """A mongod and the simulators started for a run in this process, the gateway's
    settings for them, and the simulators (their URLs: the IdP for tokens)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalMongod(Path(tmp) / "mongodb") as mongod,
        running_sandbox(scale=1.0) as sandbox,
    ):
        yield sandbox_settings(mongod, sandbox), sandbox


def sandbox_settings(mongod: LocalMongod, sandbox: Sandbox) -> Settings:
    """The gateway's settings for an in-process run against `mongod` and the simulators."""
    return Settings(
        _env_file=None,
        env=Environment.TEST,
        mongodb_uri=mongod.uri,
        square={"base_url": sandbox.urls["square"]},
        shopify={"base_url": sandbox.urls["shopify"]},
        salesforce={"login_url": sandbox.urls["salesforce"]},
        auth={"issuer": sandbox.urls["identity"]},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--live", action="store_true", help="real upstream calls, no replay")
    parser.add_argument("--transport", choices=TRANSPORT_NAMES, default=HttpSettings().transport)
    args = parser.parse_args()
    with inprocess_stack() as (settings, _sandbox):
        figures = uvloop.run(
            measure(settings, args.requests, args.rounds, args.live, args.transport)
        )
    rounds = " ".join(f"{figure:.3f}" for figure in figures)
    print(f"{'gateway_cpu_ms_per_request':<30} {min(figures):.3f} (rounds: {rounds})")
    print(f"{'upstream answers':<30} {'live' if args.live else 'replayed'}")
    print(f"{'transport':<30} {args.transport}")


if __name__ == "__main__":
    main()
