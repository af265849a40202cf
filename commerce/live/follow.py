"""What a live subscriber streams: the current values of the SKUs that changed, read after
the change was heard of, so the last message always holds the latest values."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from commerce.live.watch import LiveWatch

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class LiveUpdate(Generic[V]):
    # SKU -> its value now, for the SKUs that changed (sorted)
    values: list[tuple[str, V]]


Read = Callable[[list[str]], Awaitable[dict[str, V]]]


async def follow(
    watch: LiveWatch,
    read: Read[V],
    min_interval_seconds: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[LiveUpdate[V], None]:
    """Raises SubscriberFellBehind when the watch drops the subscriber; a failed read ends
    the stream with its error.

    Messages are at least `min_interval_seconds` apart: a change after a quiet spell goes
    out at once, while a burst is gathered into one message per interval, so a burst of
    any size costs a subscriber at most its duration / interval + 1 messages."""
    last_sent: float | None = None
    while True:
        if last_sent is not None:
            wait = last_sent + min_interval_seconds - clock()
            if wait > 0:
                await asyncio.sleep(wait)  # changes meanwhile gather on the watch
        skus = sorted(await watch.take())
        values = await read(skus)
        update = LiveUpdate([(sku, values[sku]) for sku in skus if sku in values])
        if not update.values:
            continue
        watch.sending()
        yield update
        watch.sent()
        last_sent = clock()
