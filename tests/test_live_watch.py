"""A live subscriber's watch and stream in isolation: coalescing by SKU, the interval
between messages, and when a subscriber counts as fallen behind. The end-to-end behaviour
over websockets is in test_live_catalog.py."""

from __future__ import annotations

import asyncio

import pytest

from commerce.live import ChangeKind, Interest, LiveWatch, SubscriberFellBehind, follow


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def watch(skus: set[str] | None, clock: Clock | None = None, **limits: float) -> LiveWatch:
    options = {"max_lag_seconds": 10.0, "max_pending": 1000} | limits
    return LiveWatch(
        Interest(ChangeKind.STOCK, "STORE-1", frozenset(skus) if skus is not None else None),
        max_lag_seconds=float(options["max_lag_seconds"]),
        max_pending=int(options["max_pending"]),
        clock=clock or Clock(),
    )


async def test_the_first_take_is_every_followed_sku_then_only_what_changed():
    followed = watch({"A", "B", "C"})
    assert await followed.take() == {"A", "B", "C"}
    followed.mark(["B", "Z"])  # Z is not followed
    followed.mark(["B"])
    followed.mark(["C"])
    assert await followed.take() == {"B", "C"}


async def test_a_thousand_changes_wait_as_one_set():
    followed = watch({f"S{i}" for i in range(200)})
    await followed.take()
    for i in range(1000):
        followed.mark([f"S{i % 200}"])
    assert await followed.take() == {f"S{i}" for i in range(200)}


async def test_a_send_stuck_past_the_lag_drops_the_subscriber_when_more_changes_come():
    clock = Clock()
    dropped: list[bool] = []
    followed = LiveWatch(
        Interest(ChangeKind.STOCK, None, frozenset({"A"})),
        max_lag_seconds=5,
        max_pending=10,
        clock=clock,
        on_fell_behind=lambda: dropped.append(True),
    )
    await followed.take()
    followed.sending()
    clock.now += 4
    followed.mark(["A"])
    assert not followed.fell_behind  # still within the lag
    clock.now += 2
    followed.mark(["A"])  # already marked: the lag is checked all the same
    assert followed.fell_behind
    assert dropped == [True]
    with pytest.raises(SubscriberFellBehind):
        await followed.take()


async def test_a_whole_store_subscriber_with_too_much_waiting_is_dropped():
    followed = watch(None, max_pending=3)
    followed.mark(["A", "B", "C"])
    assert not followed.fell_behind
    followed.mark(["D"])
    assert followed.fell_behind


async def test_a_burst_is_gathered_into_one_message_per_interval():
    followed = watch({"A", "B"})
    reads: list[list[str]] = []

    async def read(skus: list[str]) -> dict[str, int]:
        reads.append(skus)
        return dict.fromkeys(skus, len(reads))

    stream = follow(followed, read, min_interval_seconds=1.0)
    first = await anext(stream)
    assert first.values == [("A", 1), ("B", 1)]
    followed.mark(["A"])
    second = asyncio.ensure_future(anext(stream))
    for _ in range(5):  # a few turns of the loop, well within the interval
        await asyncio.sleep(0)
    assert len(reads) == 1  # nothing read yet: the stream waits out the interval
    followed.mark(["B"])
    assert (await second).values == [("A", 2), ("B", 2)]
    await stream.aclose()
