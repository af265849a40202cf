"""A cap on request bodies, as plain ASGI middleware: a declared Content-Length over the cap
is refused before any byte is read, and a body streamed without one is counted chunk by
chunk and refused as soon as it crosses the cap, so at most one chunk past it is held."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.limits.http_refusal import send_refusal

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_length(scope) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if started:  # the app answered before reading it all; nothing left to say
                raise
            await self._refuse(scope, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0  # the server refuses a malformed length itself
        return 0

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_refusal(
            scope,
            send,
            413,
            PAYLOAD_TOO_LARGE,
            f"Request body exceeds the limit of {self.max_bytes} bytes (max_body_bytes).",
        )
