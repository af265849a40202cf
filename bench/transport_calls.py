"""CPU per upstream call of each transport the gateway can use, alone.

    python -m bench.transport_calls [--calls 4000] [--rounds 3]

One call is what the product page's inventory call is: a POST of a small JSON body, a
46 KB JSON answer read whole, over a kept-alive loopback connection, through the transport
as UpstreamHttp drives it (an httpx.Request in, the body read). The upstream is a minimal
server in its own process answering every request with the same bytes, so its own cost
stays out of the figure and off this process. Each transport runs at 1 call at a time and
at 16 concurrent calls, the order alternating round by round; the figure is this process's
user+system CPU per call, the smallest of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import httpx
import uvloop

from bench.framing import take_request
from gateway.local_mongod import free_port, stop_process
from gateway.settings import TRANSPORT_NAMES
from gateway.wiring.build import upstream_transport

COUNTS = b",".join(
    b'{"catalog_object_id":"VARIATION%05d","catalog_object_type":"ITEM_VARIATION",'
    b'"state":"IN_STOCK","location_id":"L%03d","quantity":"%d"}' % (i, i % 13, i)
    for i in range(360)
)
ANSWER_BODY = b'{"counts":[' + COUNTS + b"]}"
ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    % len(ANSWER_BODY)
) + ANSWER_BODY
REQUEST_BODY = b'{"catalog_object_ids":[%s],"states":["IN_STOCK"],"limit":1000}' % b",".join(
    b'"VARIATION%05d"' % i for i in range(20)
)


class _SameAnswer(asyncio.Protocol):
    """Answers each whole request (head and Content-Length body) with ANSWER."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (taken := take_request(self.buffer)) is not None:
            self.buffer = taken[1]
            self.transport.write(ANSWER)  # type: ignore[attr-defined]


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_SameAnswer, "127.0.0.1", port)
    await server.serve_forever()


async def cpu_per_call(name: str, url: str, calls: int, concurrency: int) -> float:
    transport = upstream_transport(name)
    timeouts = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    headers = {"content-type": "application/json", "authorization": "Bearer sandbox"}

    async def call() -> None:
        request = httpx.Request(
            "POST", url, content=REQUEST_BODY, headers=headers, extensions={"timeout": timeouts}
        )
        response = await transport.handle_async_request(request)
        await response.aread()
        await response.aclose()
        assert len(response.content) == len(ANSWER_BODY)

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(caller(100) for _ in range(concurrency)))  # connections made
    started = time.process_time()
    await asyncio.gather(*(caller(calls // concurrency) for _ in range(concurrency)))
    spent = time.process_time() - started
    await transport.aclose()
    return spent * 1e6 / (calls // concurrency * concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the upstream process
    args = parser.parse_args()
    if args.serve:
        uvloop.run(serve(args.serve))
        return
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.transport_calls", f"--serve={port}"])
    try:
        url = f"http://127.0.0.1:{port}/v2/inventory/counts/batch-retrieve"
        for _ in range(100):  # until it listens
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        print(f"answer of {len(ANSWER_BODY)} bytes; CPU µs per call, smallest of the rounds")
        for concurrency in (1, 16):
            figures: dict[str, list[float]] = {name: [] for name in TRANSPORT_NAMES}
            for round_ in range(args.rounds):
                order = TRANSPORT_NAMES if round_ % 2 == 0 else TRANSPORT_NAMES[::-1]
                for name in order:
                    figures[name].append(
                        uvloop.run(cpu_per_call(name, url, args.calls, concurrency))
                    )
            for name, values in figures.items():
                rounds = " ".join(f"{value:.0f}" for value in values)
                label = f"{name}, {concurrency} at a time"
                print(f"{label:<30} {min(values):6.0f}  (rounds: {rounds})")
    finally:
        stop_process(upstream)


if __name__ == "__main__":
    main()
