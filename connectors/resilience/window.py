"""A count over a sliding time window, kept in a ring of buckets (no per-event memory)."""

from __future__ import annotations

import math
from collections.abc import Callable

Clock = Callable[[], float]


class RollingCounter:
    """Events in the last `window_seconds`, to a resolution of one bucket."""

    def __init__(self, window_seconds: float, clock: Clock, buckets: int = 10) -> None:
        self._width = window_seconds / buckets
        self._clock = clock
        self._counts = [0] * buckets
        self._slots = [-1] * buckets  # the bucket number each slot holds now

    def add(self, n: int = 1) -> None:
        slot = self._slot()
        self._counts[slot % len(self._counts)] += n

    def total(self) -> int:
        newest = self._slot()
        oldest = newest - len(self._counts) + 1
        return sum(c for c, s in zip(self._counts, self._slots, strict=True) if s >= oldest)

    def clear(self) -> None:
        self._counts = [0] * len(self._counts)
        self._slots = [-1] * len(self._slots)

    def _slot(self) -> int:
        number = math.floor(self._clock() / self._width)
        index = number % len(self._counts)
        if self._slots[index] != number:
            self._slots[index], self._counts[index] = number, 0
        return number
