"""Counting what each simulated vendor API was asked, so tests can assert upstream traffic.

Every sandbox app mounts `CallCounter` and the two control routes below. They live under
`/_sandbox/`, a prefix no vendor uses, and are themselves never counted.
"""

from __future__ import annotations

from collections import Counter

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/_sandbox/"


class CallCounter:
    """ASGI middleware: counts `METHOD path` for every vendor request into `app.state.calls`."""

    def __init__(self, app: ASGIApp, calls: Counter[str]) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(CONTROL_PREFIX):
            self.calls[f"{scope['method']} {scope['path']}"] += 1
        await self.app(scope, receive, send)


async def _read_calls(request: Request) -> Response:
    return JSONResponse({"calls": dict(request.app.state.calls)})


async def _reset_calls(request: Request) -> Response:
    request.app.state.calls.clear()
    return Response(status_code=204)


control_routes = [
    Route(CONTROL_PREFIX + "calls", _read_calls, methods=["GET"]),
    Route(CONTROL_PREFIX + "calls", _reset_calls, methods=["DELETE"]),
]


def counted_app(routes: list[BaseRoute], **state: object) -> Starlette:
    """A vendor simulator app with call counting and the control routes wired in."""
    calls: Counter[str] = Counter()
    app = Starlette(
        routes=[*control_routes, *routes],
        middleware=[Middleware(CallCounter, calls=calls)],
    )
    app.state.calls = calls
    for key, value in state.items():
        setattr(app.state, key, value)
    return app
