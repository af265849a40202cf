"""Per-upstream resilience, applied inside `UpstreamHttp.send` (docs/resilience.md).

One concept per module: `deadline` (the request-wide budget), `retry` (when and how long
to wait), `budget` (retries as a share of traffic), `breaker`, `bulkhead` (concurrency),
`policy` (all of them around one call), `settings`, `observer` (what metrics hear).
"""

from connectors.resilience.breaker import CircuitBreaker, CircuitState, Outcome, Permit
from connectors.resilience.budget import RetryBudget
from connectors.resilience.bulkhead import Bulkhead, SlotTimeout
from connectors.resilience.deadline import request_deadline, request_deadline_at
from connectors.resilience.observer import NullObserver, ResilienceObserver
from connectors.resilience.policy import UpstreamPolicy
from connectors.resilience.retry import backoff_seconds, may_resend, wait_before_retry
from connectors.resilience.settings import UNGUARDED, ResilienceOverrides, ResilienceSettings
from connectors.resilience.window import RollingCounter

__all__ = [
    "UNGUARDED",
    "Bulkhead",
    "CircuitBreaker",
    "CircuitState",
    "NullObserver",
    "Outcome",
    "Permit",
    "ResilienceObserver",
    "ResilienceOverrides",
    "ResilienceSettings",
    "RetryBudget",
    "RollingCounter",
    "SlotTimeout",
    "UpstreamPolicy",
    "backoff_seconds",
    "may_resend",
    "request_deadline",
    "request_deadline_at",
    "wait_before_retry",
]
