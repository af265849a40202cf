"""The request-wide deadline: how long the GraphQL request being served has left.

The gateway sets it once per operation (engine/deadline.py); every upstream call
made on that request's behalf, in whatever task, caps its own deadline at it. A context
variable rather than an argument, so adapters and services stay unaware of it: tasks
(asyncio.gather, DataLoader batches) copy the context they are created in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("omnigate_request_deadline", default=None)


@contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Calls made inside end by `seconds` from now (an enclosing, earlier deadline wins)."""
    at = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(outer, at))
    try:
        yield
    finally:
        _deadline.reset(token)


def request_deadline_at() -> float | None:
    """The current request's deadline on the `time.monotonic()` clock, if it has one."""
    return _deadline.get()
