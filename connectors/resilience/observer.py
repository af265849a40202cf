"""What the resilience layer reports, for metrics; connectors know nothing of Prometheus."""

from __future__ import annotations

from typing import Protocol

from connectors.resilience.breaker import CircuitState


class ResilienceObserver(Protocol):
    def retried(self, service: str, operation: str, reason: str) -> None:
        """A retry is about to be sent; `reason` is the failed attempt's error code."""

    def retry_refused(self, service: str, operation: str, reason: str) -> None:
        """A retryable failure was not retried: `budget` spent, or no time (`deadline`)."""

    def rejected(self, service: str, operation: str, reason: str) -> None:
        """A call was not sent: `circuit_open`, or `concurrency` (no slot in time)."""

    def circuit_changed(self, service: str, state: CircuitState) -> None:
        """The service's breaker moved to `state` (also called once at start: CLOSED)."""


class NullObserver:
    def retried(self, service: str, operation: str, reason: str) -> None:
        pass

    def retry_refused(self, service: str, operation: str, reason: str) -> None:
        pass

    def rejected(self, service: str, operation: str, reason: str) -> None:
        pass

    def circuit_changed(self, service: str, state: CircuitState) -> None:
        pass
