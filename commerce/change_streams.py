"""A MongoDB change stream followed for as long as its feed runs: resumed from its last
token after an error (within the oplog window), started afresh when the token cannot be
resumed or the stream ends by itself. The cart feed (commerce/cart/changes.py) and the live
catalog feed (commerce/live/feed.py) each follow one, and tell their subscribers when it
was interrupted and when it is open again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.errors import OperationFailure, PyMongoError

Document = dict[str, Any]
ResumeToken = Mapping[str, Any]
# InvalidResumeToken, ChangeStreamFatalError, ChangeStreamHistoryLost: the token cannot be
# resumed from, so the stream starts from now (subscribers re-read what they follow)
UNRESUMABLE = frozenset({260, 280, 286})


async def follow_forever(
    open_stream: Callable[[ResumeToken | None], Awaitable[AsyncChangeStream[Document]]],
    *,
    on_open: Callable[[], None],
    on_change: Callable[[Document], None],
    on_interrupt: Callable[[object], None],
    ended: str,
    retry_seconds: float,
) -> None:
    """Runs until cancelled. `open_stream(token)` watches from `token` (None: from now);
    `ended`: the interruption's reason when the stream ends by itself (its collection
    dropped)."""
    resume_token: ResumeToken | None = None
    while True:
        try:
            stream = await open_stream(resume_token)
            async with stream:
                on_open()
                resume_token = await _follow(stream, resume_token, on_change)
            resume_token = None
            on_interrupt(ended)
        except OperationFailure as exc:
            if exc.code in UNRESUMABLE:
                resume_token = None
            on_interrupt(exc)
            await asyncio.sleep(retry_seconds)
        except PyMongoError as exc:
            # resume where we were once MongoDB is back (within its oplog window)
            on_interrupt(exc)
            await asyncio.sleep(retry_seconds)


async def _follow(
    stream: AsyncChangeStream[Document],
    resume_token: ResumeToken | None,
    on_change: Callable[[Document], None],
) -> ResumeToken | None:
    """Hands on changes until the stream ends; its last resume token."""
    # One getMore per call, each within the client's operation timeout (iterating with
    # `async for` would put the whole wait for the next change under that timeout, and an
    # idle stream would break every few seconds).
    while stream.alive:
        change = await stream.try_next()
        # the token advances with empty batches too, so a resume replays nothing old
        resume_token = stream.resume_token or resume_token
        if change is not None:
            on_change(change)
    return resume_token
