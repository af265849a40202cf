"""What a live subscriber streams: the current values of the SKUs that changed, read after
the change was heard of, so the last message always holds the latest values."""

from __future__ import annotations

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


async def follow(watch: LiveWatch, read: Read[V]) -> AsyncGenerator[LiveUpdate[V], None]:
    """Raises SubscriberFellBehind when the watch drops the subscriber; a failed read ends
    the stream with its error."""
    while True:
        skus = sorted(await watch.take())
        values = await read(skus)
        update = LiveUpdate([(sku, values[sku]) for sku in skus if sku in values])
        if not update.values:
            continue
        watch.sending()
        yield update
        watch.sent()
