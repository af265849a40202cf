"""The request-wide deadline: no GraphQL response waits on upstreams past the budget.

The budget (`request_deadline_seconds`) starts when the operation does and becomes the
request deadline of connectors/resilience for its execution: every upstream call the
request makes, in whatever task or DataLoader batch, ends by then, and a field still
waiting answers null with UPSTREAM_TIMEOUT while the others keep what they got.
Subscriptions are left out: they are meant to outlive any request budget. engine/operation.py
applies it to each execution.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext

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
    if (
        not isinstance(context, Context)
        or execution_context.operation_type is OperationType.SUBSCRIPTION
    ):
        return nullcontext()
    started = started if started is not None else time.monotonic()
    budget = context.services.settings.request_deadline_seconds
    return request_deadline(budget - (time.monotonic() - started))
