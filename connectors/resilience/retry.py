"""When a failed attempt is worth another, and how long to wait before it.

Only calls marked idempotent are retried (reads, and writes carrying the vendor's
idempotency key), with one exception: a connection that could not be made sent nothing,
so any call may be tried again. The wait is exponential backoff with full jitter (AWS
Architecture Blog, "Exponential Backoff And Jitter"), or what the vendor asked for when it
throttled us and said how long (Retry-After, Shopify's restore time): never less, and
never past the call's deadline. The retry budget has the last word.
"""

from __future__ import annotations

import random

from connectors.errors import UpstreamError, UpstreamThrottled, UpstreamUnavailable
from connectors.resilience.settings import ResilienceSettings


def backoff_seconds(retry: int, settings: ResilienceSettings, rng: random.Random) -> float:
    """The wait before retry number `retry` (1 for the first): uniform in [0, cap]."""
    cap = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** (retry - 1))
    return rng.uniform(0.0, cap)


def may_resend(error: UpstreamError, idempotent: bool) -> bool:
    """Whether sending the call again is safe and could help."""
    if not error.retryable:
        return False
    return idempotent or (isinstance(error, UpstreamUnavailable) and not error.sent)


def wait_before_retry(
    error: UpstreamError, retry: int, settings: ResilienceSettings, rng: random.Random
) -> float:
    """Seconds to wait before retry number `retry` after `error`."""
    if isinstance(error, UpstreamThrottled) and error.retry_after is not None:
        # a little jitter on top, so callers told the same time do not return in step
        return error.retry_after + rng.uniform(0.0, settings.backoff_base_seconds)
    return backoff_seconds(retry, settings, rng)
