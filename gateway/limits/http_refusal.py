"""A refusal answered before any operation runs: a GraphQL-shaped JSON body, so clients read
`errors[0].extensions.code` whatever refused them, in the media type the request negotiated
(gateway/limits/media_types.py). ASGI middleware sends one directly; the GraphQL view
raises `Refusal` and sends it."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.types import Scope, Send

from gateway.limits.media_types import content_type_of


class Refusal(Exception):
    """The request is answered `status` with one error and no operation runs."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


async def send_refusal(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    extra = headers or {}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type_of(scope).encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
