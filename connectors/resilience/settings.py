"""The resilience settings of one upstream, and the per-system overrides of them.

The gateway's settings hold one `ResilienceSettings` for every upstream (`upstreams.all`)
and a `ResilienceOverrides` per system whose unset (None) fields inherit from it; see
docs/resilience.md for what each one does and how the defaults were chosen.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class ResilienceSettings(BaseModel):
    # TCP (and TLS) connect; a refused connect fails at once and is retried even for writes
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    # the whole call: every attempt, backoff and wait for a slot included
    deadline_seconds: float = Field(default=5.0, gt=0)
    # one attempt; None lets an attempt use whatever remains of the deadline
    attempt_timeout_seconds: float | None = Field(default=None, gt=0)
    # attempts after the first, for idempotent calls only
    retries: int = Field(default=2, ge=0, le=10)
    # full-jitter exponential backoff: a uniform wait in [0, min(max, base * 2**n)]
    backoff_base_seconds: float = Field(default=0.05, ge=0)
    backoff_max_seconds: float = Field(default=1.0, ge=0)
    # retries allowed per window: min_per_second * window + ratio * first attempts in it
    retry_budget_ratio: float = Field(default=0.2, ge=0)
    retry_budget_min_per_second: float = Field(default=1.0, ge=0)
    retry_budget_window_seconds: float = Field(default=10.0, gt=0)
    # the breaker opens when, over the window, at least min_calls attempts were made and
    # this share of them failed; it stays open open_seconds, then lets probes through
    breaker_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    breaker_min_calls: int = Field(default=20, ge=1)
    breaker_window_seconds: float = Field(default=10.0, gt=0)
    breaker_open_seconds: float = Field(default=5.0, gt=0)
    breaker_half_open_probes: int = Field(default=1, ge=1)
    # attempts in flight to this upstream per pod; more wait (within their deadline)
    max_concurrency: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _backoff_bounds(self) -> ResilienceSettings:
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must be >= backoff_base_seconds")
        return self


class ResilienceOverrides(BaseModel):
    """One system's departures from `upstreams.all`: None inherits. Bounds are checked on
    the merged settings."""

    connect_timeout_seconds: float | None = None
    deadline_seconds: float | None = None
    attempt_timeout_seconds: float | None = None
    retries: int | None = None
    backoff_base_seconds: float | None = None
    backoff_max_seconds: float | None = None
    retry_budget_ratio: float | None = None
    retry_budget_min_per_second: float | None = None
    retry_budget_window_seconds: float | None = None
    breaker_failure_ratio: float | None = None
    breaker_min_calls: int | None = None
    breaker_window_seconds: float | None = None
    breaker_open_seconds: float | None = None
    breaker_half_open_probes: int | None = None
    max_concurrency: int | None = None

    def applied_to(self, base: ResilienceSettings) -> ResilienceSettings:
        """`base` with these overrides, validated as a whole."""
        return ResilienceSettings.model_validate(
            {**base.model_dump(), **self.model_dump(exclude_none=True)}
        )


# What an UpstreamHttp built without a policy gets (contract tests, scripts): one attempt,
# no concurrency cap, and a breaker that never sees enough calls to open. The request
# deadline still applies.
UNGUARDED = ResilienceSettings(
    retries=0, breaker_min_calls=2**31, max_concurrency=2**31, retry_budget_min_per_second=0
)
