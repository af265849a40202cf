"""What pages show of holds (commerce/holds/shown.py): remembered per SKU for the interval,
forgotten on a change, and never remembered from a read that a change overtook. The reads
here are a function counting its calls, and the clock is the test's: what is under test is
when the class asks again, not MongoDB (tests/test_round_trips.py and
tests/test_live_catalog.py show it against the real one)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from commerce.holds.model import SkuHolds
from commerce.holds.shown import ShownHolds


class Holds:
    def __init__(self) -> None:
        self.held: dict[str, SkuHolds] = {}
        self.asked: list[list[str]] = []
        self.gate: asyncio.Event | None = None

    async def read(self, skus: Sequence[str]) -> dict[str, SkuHolds]:
        self.asked.append(list(skus))
        answer = {sku: self.held[sku] for sku in skus if sku in self.held}
        if self.gate is not None:
            await self.gate.wait()
        return answer


def one(cart: str, quantity: int) -> SkuHolds:
    return SkuHolds({"S1": {cart: quantity}})


async def test_remembered_for_the_interval_then_read_again():
    holds, now = Holds(), [100.0]
    shown = ShownHolds(holds.read, 1.0, clock=lambda: now[0])
    holds.held["A"] = one("c1", 2)
    assert await shown.held(["A", "B"]) == {"A": one("c1", 2)}
    holds.held["B"] = one("c2", 1)  # not forgotten: shown a moment late
    now[0] += 0.5
    assert await shown.held(["A", "B"]) == {"A": one("c1", 2)}
    assert holds.asked == [["A", "B"]]
    now[0] += 0.5
    assert await shown.held(["B", "C"]) == {"B": one("c2", 1)}
    assert holds.asked == [["A", "B"], ["B", "C"]]


async def test_a_forgotten_sku_is_read_again_alone():
    holds = Holds()
    shown = ShownHolds(holds.read, 60.0)
    await shown.held(["A", "B"])
    holds.held["A"] = one("c1", 1)
    shown.forget(["A"])
    assert await shown.held(["A", "B"]) == {"A": one("c1", 1)}
    assert holds.asked == [["A", "B"], ["A"]]


async def test_a_read_overtaken_by_a_change_is_not_remembered():
    """The read began before the hold and answers without it; remembering that answer
    would show the hold missing for the whole interval."""
    holds = Holds()
    shown = ShownHolds(holds.read, 60.0)
    holds.gate = asyncio.Event()
    reading = asyncio.create_task(shown.held(["A"]))
    await asyncio.sleep(0)
    holds.held["A"] = one("c1", 1)
    shown.forget(["A"])
    holds.gate.set()
    assert await reading == {}
    holds.gate = None
    assert await shown.held(["A"]) == {"A": one("c1", 1)}


async def test_zero_reads_every_time():
    holds = Holds()
    shown = ShownHolds(holds.read, 0.0)
    await shown.held(["A"])
    await shown.held(["A"])
    assert holds.asked == [["A"], ["A"]]
