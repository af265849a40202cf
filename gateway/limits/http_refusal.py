"""A refusal answered by ASGI middleware before the GraphQL view runs: a GraphQL-shaped JSON
body, so clients read `errors[0].extensions.code` whatever refused them."""

from __future__ import annotations

import orjson
from starlette.types import Send


async def send_refusal(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
