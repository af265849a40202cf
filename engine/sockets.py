"""Closing a subscriber's websocket from inside a resolver, for a reason of the server's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.websockets import WebSocket

from engine.context import Context

# a live subscriber that stopped reading: graphql-ws clients reconnect after it (it is not
# one of their fatal codes) and get the current values on subscribing again
WS_FELL_BEHIND = 4008
FELL_BEHIND_REASON = "Subscriber fell behind: reconnect for current values"
_closing: set[asyncio.Task[None]] = set()


def closer(context: Context, code: int, reason: str) -> Callable[[], None] | None:
    """A callback closing the context's websocket, or None over HTTP. The close runs in a
    task of its own: the subscription's task may be stuck in a send that never returns."""
    socket = context.response
    if not isinstance(socket, WebSocket):
        return None

    async def close() -> None:
        with contextlib.suppress(RuntimeError, OSError):  # closed meanwhile
            await socket.close(code, reason)

    def close_soon() -> None:
        task = asyncio.get_running_loop().create_task(close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    return close_soon
