"""The request-wide deadline: no GraphQL response waits on upstreams past the budget.

The budget (`request_deadline_seconds`) starts when the operation does and becomes the
request deadline of connectors/resilience for its execution: every upstream call the
request makes, in whatever task or DataLoader batch, ends by then, and a field still
waiting answers null with UPSTREAM_TIMEOUT while the others keep what they got.

A mutation's MongoDB operations are bounded by the same budget instead of
`mongodb_timeout_seconds` (never less than that): while the replica set elects a new
primary, a write waits for it, and the driver's retryable writes and transactions resend
it there once, so the client gets its answer rather than a DATABASE_UNAVAILABLE whose
outcome it cannot know (docs/resilience.md "MongoDB failover"). Queries keep the short
timeout: a read that fails is safe to repeat, and the profile cache's fallback to the
upstream needs MongoDB to give up quickly.

Subscriptions are left out: they are meant to outlive any request budget.
engine/operation.py applies it to each execution.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import pymongo
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from connectors.resilience import request_deadline
from engine.context import Context


def execution_deadline(
    execution_context: ExecutionContext, started: float | None
) -> AbstractContextManager[object]:
    """The request deadline for an execution whose operation started at `started`
    (time.monotonic()); none for a subscription or outside a gateway request."""
    context = execution_context.context
    if not isinstance(context, Context):
        return nullcontext()
    # a property that finds the operation in the document again on every read: read once
    operation_type = execution_context.operation_type
    if operation_type is OperationType.SUBSCRIPTION:
        return nullcontext()
    started = started if started is not None else time.monotonic()
    settings = context.services.settings
    left = settings.request_deadline_seconds - (time.monotonic() - started)
    if operation_type is OperationType.MUTATION:
        return _mutation_deadline(left, settings.mongodb_timeout_seconds)
    return request_deadline(left)


@contextmanager
def _mutation_deadline(left: float, mongodb_timeout: float) -> Iterator[None]:
    # pymongo.timeout is the driver's own per-block timeout (CSOT): server selection, every
    # retry of a retryable write and with_transaction's retries all end by it.
    with request_deadline(left), pymongo.timeout(max(left, mongodb_timeout)):
        yield
