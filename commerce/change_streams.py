"""A MongoDB change stream followed for as long as its feed runs: resumed from its last
token after an error (within the oplog window), started afresh when the token cannot be
resumed or the stream ends by itself. The cart feed (commerce/cart/changes.py) and the live
catalog feed (commerce/live/feed.py) each follow one through a `FollowedStream`, and tell
their subscribers when it was interrupted and when it is open again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from commerce.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Document = dict[str, Any]
ResumeToken = Mapping[str, Any]
# InvalidResumeToken, ChangeStreamFatalError, ChangeStreamHistoryLost: the token cannot be
# resumed from, so the stream starts from now (subscribers re-read what they follow)
UNRESUMABLE = frozenset({260, 280, 286})
OpenStream = Callable[[ResumeToken | None], Awaitable[AsyncChangeStream[Document]]]
INSERTS = [{"$match": {"operationType": "insert"}}]


def inserts_into(collection: AsyncCollection[Document], await_seconds: float) -> OpenStream:
    """Opens the change stream of what is inserted into `collection`, from a resume token.
    One read waits at most `await_seconds` on the server: keep it below the client's
    operation timeout, or an idle stream would time out."""
    await_ms = max(1, int(await_seconds * 1000))
    return lambda token: collection.watch(INSERTS, resume_after=token, max_await_time_ms=await_ms)


class ChangeLog:
    """An append-only collection of what changed (never the new values, so two writers
    racing cannot leave a stale value behind: readers read after they hear), which every
    pod follows through its change stream. A TTL index removes each entry after
    `retention`; the stream, not the collection, is what followers read."""

    def __init__(self, database: AsyncDatabase[Document], name: str, retention: timedelta) -> None:
        self.collection: AsyncCollection[Document] = database[name]
        self._retention = retention

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            "at", expireAfterSeconds=int(self._retention.total_seconds())
        )

    async def append(self, entry: Document) -> None:
        await self.collection.insert_one({**entry, "at": datetime.now(UTC)})


class FeedUnavailable(Exception):
    """MongoDB did not open the change stream in time: no live updates can be promised."""


class FollowedStream:
    """One change stream followed in a task of its own, started when first needed: whether
    it is open, and a word once when it breaks and once when it is back."""

    def __init__(
        self,
        open_stream: OpenStream,
        *,
        name: str,
        on_change: Callable[[Document], None],
        on_interrupted: Callable[[], None],
        on_resumed: Callable[[], None],
        retry_seconds: float,
        open_timeout_seconds: float,
    ) -> None:
        """`name`: what the logs and errors call it ("cart change stream")."""
        self._open_stream = open_stream
        self._name = name
        self._on_change = on_change
        self._on_interrupted = on_interrupted
        self._on_resumed = on_resumed
        self._retry_seconds = retry_seconds
        self._open_timeout_seconds = open_timeout_seconds
        self._task: asyncio.Task[None] | None = None
        self._open = asyncio.Event()
        self.interrupted = False

    async def wait_open(self) -> None:
        """Follows the stream if nothing does yet, and waits until it is open; a subscriber
        registered after this misses no later change. Raises FeedUnavailable if it does not
        open in time."""
        if self._task is None or self._task.done():
            self._open.clear()
            self._task = asyncio.create_task(self._follow(), name=self._name.replace(" ", "-"))
        try:
            await asyncio.wait_for(self._open.wait(), self._open_timeout_seconds)
        except TimeoutError as exc:
            raise FeedUnavailable(f"the {self._name} could not be opened") from exc

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _follow(self) -> None:
        await follow_forever(
            self._open_stream,
            on_open=self._opened,
            on_change=self._on_change,
            on_interrupt=self._interrupt,
            ended=f"the {self._name} ended",
            retry_seconds=self._retry_seconds,
        )

    def _opened(self) -> None:
        self._open.set()
        if self.interrupted:
            self.interrupted = False
            log.warning("%s resumed", self._name)
            self._on_resumed()

    def _interrupt(self, reason: object) -> None:
        if not self.interrupted:
            self.interrupted = True
            log.warning("%s interrupted, resuming: %s", self._name, reason)
            self._on_interrupted()


async def follow_forever(
    open_stream: OpenStream,
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
