"""Scripted loopback upstreams: a server whose every connection runs a handler written in
the test, for framing and failure cases a real upstream produces and a framework would not
(tests/test_http1_transport.py, tests/test_upstream_wire.py)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

Handler = Callable[["Conversation"], Awaitable[None]]
OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
TIMEOUTS = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


@dataclass
class Conversation:
    """One connection as the server sees it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def request(self) -> tuple[bytes, bytes] | None:
        """The next request's line and body; None when the client closed."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return head.split(b"\r\n", 1)[0], body

    async def answer(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


@dataclass
class Upstream:
    url: str
    connections: int = 0


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Upstream]:
    upstream = Upstream("")
    conversations: list[tuple[asyncio.Task[None] | None, asyncio.StreamWriter]] = []

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream.connections += 1
        conversations.append((asyncio.current_task(), writer))
        try:
            await handler(Conversation(reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # cancelled by `serving` itself, on the way out
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    upstream.url = f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{port}"
    try:
        yield upstream
    finally:
        server.close()
        for task, writer in conversations:
            writer.close()
            if task is not None:
                task.cancel()
        await asyncio.gather(*(task for task, _ in conversations if task), return_exceptions=True)
        await server.wait_closed()


def answering(*answers: bytes) -> Handler:
    """Answers the upstream's first requests, on whichever connection, with `answers` in
    turn, and every later one with OK."""
    pending = list(answers)

    async def handler(conversation: Conversation) -> None:
        while await conversation.request() is not None:
            await conversation.answer(pending.pop(0) if pending else OK)

    return handler
