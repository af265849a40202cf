"""The least a product page's request must do, without GraphQL: read the request, send
the page's two upstream requests (as the gateway sent them, recorded) one after the other
through omnigate's own transport, decode both answers, write the page's answer bytes.

Served by uvicorn as `omnigate serve` is (uvloop, httptools) for `bench.floor`, which
sets FLOOR_HOPS (a JSON list of [method, url, body]), FLOOR_PAGE (a file holding the
answer) and FLOOR_DECODE ("1": the answers are decoded with orjson, as the gateway must).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.http1_transport import Http1Transport

_HOPS: list[tuple[str, str, bytes]] = [
    (method, url, body.encode()) for method, url, body in json.loads(os.environ["FLOOR_HOPS"])
]
_PAGE = Path(os.environ["FLOOR_PAGE"]).read_bytes()
_DECODE = os.environ.get("FLOOR_DECODE") == "1"
_HEADERS = {"content-type": "application/json"}
_transport = Http1Transport()


async def page(request: Request) -> Response:
    await request.body()
    for method, url, body in _HOPS:
        answer = await _transport.handle_async_request(
            httpx.Request(method, url, content=body, headers=_HEADERS)
        )
        data = await answer.aread()
        if _DECODE:
            orjson.loads(data)
    return Response(_PAGE, media_type="application/json")


app = Starlette(routes=[Route("/floor", page, methods=["POST"])])
