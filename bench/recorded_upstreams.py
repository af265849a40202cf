"""The sandbox's answers, recorded once and served again at almost no CPU: the upstream side
of a gateway-bound benchmark.

    python -m bench.recorded_upstreams --listen square=PORT=http://127.0.0.1:SANDBOX_PORT ...

Why: on this 2-core machine the sandbox's simulators run beside the gateway and need more
CPU per product page than the gateway does (bench/README.md), so the served benchmark is
bound by them at ~150 req/s and measures a gateway that is idle most of the time, sharing
its caches with them. In production the vendors' CPU is on their machines, not the
gateway's. Here each listener stands for one vendor: the first time it sees a request
(method, path and body) it forwards it to the sandbox and keeps the answer; every later
identical request gets the same status, headers and body back from memory. The gateway
does exactly the work it does against the sandbox itself (same requests, same answers,
byte for byte); what the upstream side costs per call falls from milliseconds of Python to
a dictionary lookup and a socket write.

Only fit for read-only load (every answer to a repeated request is the first one); the
product benchmarks are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from functools import partial

import httpx
import uvloop

from bench.framing import take_request

# not copied from the sandbox's answer: this listener frames its own
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}
Key = tuple[bytes, bytes, bytes]  # method, target, body


class Recorder:
    """One vendor's recorded answers, fetched from `target` on first sight."""

    def __init__(self, target: str) -> None:
        self.client = httpx.AsyncClient(base_url=target, timeout=30)
        self.answers: dict[Key, bytes] = {}

    async def answer(self, key: Key, headers: list[tuple[bytes, bytes]]) -> bytes:
        known = self.answers.get(key)
        if known is not None:
            return known
        method, target, body = key
        request = self.client.build_request(
            method.decode(),
            target.decode(),
            content=body,
            headers=[(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP | {b"host"}],
        )
        response = await self.client.send(request, stream=True)
        try:  # the body as sent, still in any content-encoding it came in
            content = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        lines = [b"HTTP/1.1 %d %s\r\n" % (response.status_code, response.reason_phrase.encode())]
        lines += [
            b"%s: %s\r\n" % (name, value)
            for name, value in response.headers.raw
            if name.lower() not in HOP_BY_HOP
        ]
        lines.append(b"content-length: %d\r\n\r\n" % len(content))
        answer = b"".join(lines) + content
        if response.is_success:
            self.answers[key] = answer
        return answer


RECORDED = b"/_recorded"


def recorded_listing(recorder: Recorder) -> bytes:
    """`GET /_recorded`: the requests answered from memory, as JSON [{method, target,
    body}], so a benchmark can time one hop alone with exactly the gateway's request."""
    body = json.dumps(
        [
            {"method": m.decode(), "target": t.decode(), "body": b.decode()}
            for m, t, b in recorder.answers
        ]
    ).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    return head % len(body) + body


class _Listener(asyncio.Protocol):
    """Reads whole requests (Content-Length framed, as the gateway sends them) and answers
    each in turn; a connection's next request waits for the answer before it. With a
    `delay`, every answer leaves that many seconds after its request was read, standing
    for a vendor's own time (the network and its servers)."""

    def __init__(self, recorder: Recorder, delay: float = 0.0) -> None:
        self._recorder = recorder
        self._delay = delay
        self._buffer = b""
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._answer_whole_requests()

    def _answer_whole_requests(self) -> None:
        while (taken := take_request(self._buffer)) is not None:
            request, self._buffer = taken
            method, target, _ = request.line.split(b" ", 2)
            key = (method, target, request.body)
            known = (
                recorded_listing(self._recorder)
                if target == RECORDED
                else self._recorder.answers.get(key)
            )
            if known is not None and self._delay <= 0:
                self._transport.write(known)
                continue
            self._busy = True
            if known is not None:
                asyncio.get_running_loop().call_later(self._delay, self._send, known)
                return
            task = asyncio.ensure_future(self._recorder.answer(key, request.headers))
            task.add_done_callback(self._answered)
            return

    def _answered(self, task: asyncio.Future[bytes]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._busy = False
            self._transport.close()
            return
        asyncio.get_running_loop().call_later(self._delay, self._send, task.result())

    def _send(self, answer: bytes) -> None:
        self._busy = False
        if not self._transport.is_closing():
            self._transport.write(answer)
            self._answer_whole_requests()


async def serve(listeners: list[tuple[int, str]], delay: float = 0.0) -> None:
    loop = asyncio.get_running_loop()
    for port, target in listeners:
        recorder = Recorder(target)
        await loop.create_server(partial(_Listener, recorder, delay), "127.0.0.1", port)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen", action="append", required=True, help="VENDOR=PORT=SANDBOX_URL, repeated"
    )
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="each answer waits this long (a vendor hop)"
    )
    args = parser.parse_args()
    listeners = []
    for spec in args.listen:
        _, port, target = spec.split("=", 2)
        listeners.append((int(port), target))
    uvloop.run(serve(listeners, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
