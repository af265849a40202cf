"""A retry budget per upstream (Finagle's RetryBudget): retries as a share of traffic.

Over the last `window_seconds`, at most `min_per_second * window + ratio * calls` retries
may be sent, where `calls` counts first attempts. When an upstream fails everything, each
call then costs it 1 + ratio attempts on average instead of 1 + retries: the retries that
help with a blip cannot multiply the load on a service already struggling.
"""

from __future__ import annotations

from connectors.resilience.window import Clock, RollingCounter


class RetryBudget:
    def __init__(
        self, *, ratio: float, min_per_second: float, window_seconds: float, clock: Clock
    ) -> None:
        self._ratio = ratio
        self._reserve = min_per_second * window_seconds
        self._calls = RollingCounter(window_seconds, clock)
        self._retries = RollingCounter(window_seconds, clock)

    def record_call(self) -> None:
        self._calls.add()

    def try_spend(self) -> bool:
        """Whether one more retry fits; if so it is counted."""
        allowance = self._reserve + self._ratio * self._calls.total()
        if self._retries.total() + 1 > allowance:
            return False
        self._retries.add()
        return True
