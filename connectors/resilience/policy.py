"""One upstream's policy, applied to each call: deadline, concurrency, breaker, retries.

    call ─▶ deadline = min(now + deadline_seconds, the request's deadline)
         └▶ attempt: wait for a concurrency slot (until the deadline)
                     ─▶ breaker permit, or CircuitOpen without calling
                     ─▶ the attempt, cut at min(what is left, attempt_timeout_seconds)
                     ─▶ outcome to the breaker
         └▶ on failure: retry if the call may be resent, retries remain, the wait fits
            before the deadline and the retry budget allows it; else raise the failure

The attempt is a callable given the seconds it may take (UpstreamHttp passes them on as
its transport timeouts); it raises `connectors.errors` for any failure.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from connectors.errors import (
    CircuitOpen,
    UpstreamError,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamTimeout,
)
from connectors.resilience.breaker import CircuitBreaker, CircuitState, Outcome
from connectors.resilience.budget import RetryBudget
from connectors.resilience.bulkhead import Bulkhead, SlotTimeout
from connectors.resilience.deadline import request_deadline_at
from connectors.resilience.observer import NullObserver, ResilienceObserver
from connectors.resilience.retry import may_resend, wait_before_retry
from connectors.resilience.settings import ResilienceSettings
from connectors.resilience.window import Clock

T = TypeVar("T")
Attempt = Callable[[float], Awaitable[T]]


class UpstreamPolicy:
    def __init__(
        self,
        service: str,
        settings: ResilienceSettings,
        *,
        observer: ResilienceObserver | None = None,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        """`clock` drives the breaker's and the budget's windows; deadlines are always
        real time (`time.monotonic`)."""
        self.service = service
        self.settings = settings
        self._observer = observer or NullObserver()
        self._rng = rng or random.Random()
        self.breaker = CircuitBreaker(
            service,
            failure_ratio=settings.breaker_failure_ratio,
            min_calls=settings.breaker_min_calls,
            window_seconds=settings.breaker_window_seconds,
            open_seconds=settings.breaker_open_seconds,
            half_open_probes=settings.breaker_half_open_probes,
            clock=clock,
            on_change=self._observer.circuit_changed,
        )
        self._observer.circuit_changed(service, CircuitState.CLOSED)
        self.budget = RetryBudget(
            ratio=settings.retry_budget_ratio,
            min_per_second=settings.retry_budget_min_per_second,
            window_seconds=settings.retry_budget_window_seconds,
            clock=clock,
        )
        self.bulkhead = Bulkhead(settings.max_concurrency)

    async def run(self, operation: str, attempt: Attempt[T], *, idempotent: bool) -> T:
        """The attempt's result, retried per the policy; raises the last failure."""
        deadline = time.monotonic() + self.settings.deadline_seconds
        request_at = request_deadline_at()
        cut_by_request = request_at is not None and request_at < deadline
        if request_at is not None and cut_by_request:
            deadline = request_at
        if deadline <= time.monotonic():
            raise UpstreamTimeout(self.service, operation, "the request deadline had passed")
        self.budget.record_call()
        retry = 0
        failed: UpstreamError | None = None
        while True:
            try:
                return await self._attempt(operation, attempt, deadline, cut_by_request)
            except CircuitOpen:
                if failed is None:
                    raise
                # the breaker opened while we waited to retry: the call did reach the
                # upstream, and its own failure is the truer answer
                raise failed from None
            except UpstreamError as error:
                failed = error
                retry += 1
                wait = self._wait_before_retry(operation, error, retry, idempotent, deadline)
                if wait is None:
                    raise
                self._observer.retried(self.service, operation, error.code)
            await asyncio.sleep(wait)

    async def _attempt(
        self, operation: str, attempt: Attempt[T], deadline: float, cut_by_request: bool
    ) -> T:
        left = deadline - time.monotonic()
        if left <= 0:  # a retry's wait ended right at the deadline: nothing to attempt with
            raise UpstreamTimeout(self.service, operation, "no time left for another attempt")
        try:
            async with self.bulkhead.slot(left):
                return await self._call(operation, attempt, deadline, cut_by_request)
        except SlotTimeout:
            self._observer.rejected(self.service, operation, "concurrency")
            raise UpstreamTimeout(
                self.service, operation, "no concurrency slot came free before the deadline"
            ) from None

    async def _call(
        self, operation: str, attempt: Attempt[T], deadline: float, cut_by_request: bool
    ) -> T:
        permit = self.breaker.allow()
        if permit is None:
            self._observer.rejected(self.service, operation, "circuit_open")
            raise CircuitOpen(self.service, operation, "circuit open: not called")
        outcome = Outcome.IGNORED  # also for a cancelled call: it says nothing of the upstream
        left = deadline - time.monotonic()
        per_attempt = self.settings.attempt_timeout_seconds
        seconds = left if per_attempt is None else min(left, per_attempt)
        try:
            try:
                async with asyncio.timeout(seconds):
                    result = await attempt(seconds)
            except TimeoutError:
                raise UpstreamTimeout(
                    self.service, operation, f"no complete answer within {seconds:.3f}s"
                ) from None
            outcome = Outcome.SUCCESS
            return result
        except UpstreamError as error:
            # A timeout at the request's deadline, when it came before this upstream's own,
            # is the request's budget running out, not the upstream failing.
            outcome = _outcome(error, cut_short=cut_by_request and seconds == left)
            raise
        finally:
            self.breaker.record(permit, outcome)

    def _wait_before_retry(
        self, operation: str, error: UpstreamError, retry: int, idempotent: bool, deadline: float
    ) -> float | None:
        if retry > self.settings.retries or not may_resend(error, idempotent):
            return None
        wait = wait_before_retry(error, retry, self.settings, self._rng)
        if time.monotonic() + wait >= deadline:
            self._observer.retry_refused(self.service, operation, "deadline")
            return None
        if not self.budget.try_spend():
            self._observer.retry_refused(self.service, operation, "budget")
            return None
        return wait


def _outcome(error: UpstreamError, *, cut_short: bool) -> Outcome:
    if isinstance(error, UpstreamThrottled):
        return Outcome.IGNORED  # it answered, and asked us to slow down: the budget's job
    if isinstance(error, UpstreamRejected):
        if not error.sent:
            return Outcome.IGNORED  # refused before sending: says nothing of the service
        return Outcome.SUCCESS  # it answered: the request was wrong, not the service
    if isinstance(error, UpstreamTimeout) and cut_short:
        return Outcome.IGNORED
    return Outcome.FAILURE
