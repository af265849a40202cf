"""httpx's own connection pool (`OMNIGATE_HTTP__TRANSPORT=httpx`), its answers capped.

httpcore and h11 refuse a request head that would not be read as written
(`LocalProtocolError`) by themselves, but read a body of any size; this reads the body as it
comes and stops at `max_response_bytes` (gateway/http_wire.py), closing the connection, as
the other two transports do.
"""

from __future__ import annotations

import httpx

from gateway.http1_transport import DEFAULT_LIMITS
from gateway.http_wire import DEFAULT_MAX_RESPONSE_BYTES, body_too_large, whole_response


class CappedHTTPTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        super().__init__(limits=limits)
        self._max_response_bytes = max_response_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        cap = self._max_response_bytes
        answer = await super().handle_async_request(request)
        pieces = []
        try:
            length = answer.headers.get("content-length")
            if request.method != "HEAD" and length is not None and int(length) > cap:
                raise body_too_large(cap)
            size = 0
            assert isinstance(answer.stream, httpx.AsyncByteStream)
            async for piece in answer.stream:
                size += len(piece)
                if size > cap:
                    raise body_too_large(cap)  # closed unread: httpcore drops the connection
                pieces.append(piece)
        finally:
            await answer.aclose()
        reason = answer.extensions.get("reason_phrase", b"")
        encoded = "content-encoding" in answer.headers
        body = b"".join(pieces)
        return whole_response(
            request, answer.status_code, reason, answer.headers.raw, body, cap, encoded=encoded
        )
