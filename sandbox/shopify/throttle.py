"""Shopify's leaky bucket of query-cost points, one per access token (app and store).

A query needs its *requested* cost available in the bucket to run; it is charged that up
front and refunded the difference once its *actual* cost is known. The bucket refills
continuously at the plan's restore rate. The clock is injected so tests can drain the
bucket with a burst and then move time forward instead of sleeping.

Restore rates are Shopify's published per-plan figures (100 points/second on the standard
plan). Shopify's bucket has always been 20 seconds of restore (1,000 at 50/s, 2,000 at
100/s, which is what `maximumAvailable` reports on a standard shop today).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ThrottlePlan:
    maximum_available: float
    restore_rate: float


STANDARD = ThrottlePlan(maximum_available=2_000.0, restore_rate=100.0)
ADVANCED = ThrottlePlan(maximum_available=4_000.0, restore_rate=200.0)
PLUS = ThrottlePlan(maximum_available=20_000.0, restore_rate=1_000.0)
ENTERPRISE = ThrottlePlan(maximum_available=40_000.0, restore_rate=2_000.0)


class LeakyBucket:
    def __init__(self, plan: ThrottlePlan, clock: Clock) -> None:
        self.plan = plan
        self._clock = clock
        self._available = plan.maximum_available
        self._updated = clock()

    @property
    def available(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        restored = self._available + elapsed * self.plan.restore_rate
        self._available = min(self.plan.maximum_available, restored)
        self._updated = now
        return self._available

    def take(self, points: int) -> bool:
        """Charge `points` if the bucket holds them; False (and no charge) if it does not."""
        if self.available < points:
            return False
        self._available -= points
        return True

    def refund(self, points: int) -> None:
        self._available = min(self.plan.maximum_available, self.available + max(points, 0))

    def status(self) -> dict[str, float | int]:
        return {
            "maximumAvailable": self.plan.maximum_available,
            "currentlyAvailable": math.floor(self.available),
            "restoreRate": self.plan.restore_rate,
        }


class Throttle:
    """The buckets of every access token that has called, created on first use."""

    def __init__(self, plan: ThrottlePlan = STANDARD, clock: Clock = time.monotonic) -> None:
        self.plan = plan
        self.clock = clock
        self._buckets: dict[str, LeakyBucket] = {}

    def bucket(self, token: str) -> LeakyBucket:
        bucket = self._buckets.get(token)
        if bucket is None:
            bucket = self._buckets[token] = LeakyBucket(self.plan, self.clock)
        return bucket
