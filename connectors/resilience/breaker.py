"""A circuit breaker per upstream: stop calling a service that is failing, probe it later.

    CLOSED ──(≥ min_calls in the window and failures/calls ≥ ratio)──▶ OPEN
    OPEN ──(open_seconds passed, on the next call)──▶ HALF_OPEN
    HALF_OPEN ──(half_open_probes successes)──▶ CLOSED      (a fresh window)
    HALF_OPEN ──(any probe fails)──▶ OPEN                    (for open_seconds again)

While OPEN no call is made (CircuitOpen); HALF_OPEN lets `half_open_probes` calls through
at once and refuses the rest. Every attempt counts, retries included: a retry is one more
call the upstream has to answer. What counts as a failure is the caller's judgement
(`Outcome`): a throttle or a request-deadline cut is not the upstream failing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from connectors.resilience.window import Clock, RollingCounter


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(enum.Enum):
    SUCCESS = "success"  # the upstream answered (a 4xx refusal included)
    FAILURE = "failure"  # 5xx, broken or refused connection, unreadable answer, its timeout
    IGNORED = "ignored"  # says nothing about its health: throttled, cut short by us, cancelled


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; `generation` ties its outcome to the state that allowed it."""

    generation: int
    probe: bool


StateListener = Callable[[str, CircuitState], None]


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        *,
        failure_ratio: float,
        min_calls: int,
        window_seconds: float,
        open_seconds: float,
        half_open_probes: int,
        clock: Clock,
        on_change: StateListener | None = None,
    ) -> None:
        self.service = service
        self._ratio = failure_ratio
        self._min_calls = min_calls
        self._open_seconds = open_seconds
        self._probes = half_open_probes
        self._clock = clock
        self._on_change = on_change
        self._calls = RollingCounter(window_seconds, clock)
        self._failures = RollingCounter(window_seconds, clock)
        self._state = CircuitState.CLOSED
        self._generation = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0

    @property
    def state(self) -> CircuitState:
        """The state a call made now would meet (an expired OPEN reads as HALF_OPEN)."""
        if self._state is CircuitState.OPEN and self._cooled_down():
            return CircuitState.HALF_OPEN
        return self._state

    def allow(self) -> Permit | None:
        """A permit for one call, or None while the circuit refuses calls."""
        if self._state is CircuitState.OPEN:
            if not self._cooled_down():
                return None
            self._move(CircuitState.HALF_OPEN)
        if self._state is CircuitState.HALF_OPEN:
            if self._probes_in_flight >= self._probes:
                return None
            self._probes_in_flight += 1
            return Permit(self._generation, probe=True)
        return Permit(self._generation, probe=False)

    def record(self, permit: Permit, outcome: Outcome) -> None:
        """The outcome of a call made under `permit`; every permit is recorded once."""
        if permit.generation != self._generation:
            return  # allowed under a state since left: it must not move the new one
        if permit.probe:
            self._probes_in_flight -= 1
            if outcome is Outcome.FAILURE:
                self._move(CircuitState.OPEN)
            elif outcome is Outcome.SUCCESS:
                self._probe_successes += 1
                if self._probe_successes >= self._probes:
                    self._move(CircuitState.CLOSED)
            return
        if outcome is Outcome.IGNORED:
            return
        self._calls.add()
        if outcome is Outcome.FAILURE:
            self._failures.add()
            calls = self._calls.total()
            if calls >= self._min_calls and self._failures.total() >= self._ratio * calls:
                self._move(CircuitState.OPEN)

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._open_seconds

    def _move(self, state: CircuitState) -> None:
        self._state = state
        self._generation += 1
        self._probes_in_flight = self._probe_successes = 0
        if state is CircuitState.OPEN:
            self._opened_at = self._clock()
        elif state is CircuitState.CLOSED:
            self._calls.clear()
            self._failures.clear()
        if self._on_change is not None:
            self._on_change(self.service, state)
