"""The request-wide deadline: no GraphQL response waits on upstreams past the budget.

The budget (`request_deadline_seconds`) starts when the operation does and becomes the
request deadline of connectors/resilience for its execution: every upstream call the
request makes, in whatever task or DataLoader batch, ends by then, and a field still
waiting answers null with UPSTREAM_TIMEOUT while the others keep what they got.
Subscriptions are left out: they are meant to outlive any request budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from connectors.resilience import request_deadline
from engine.context import Context


class RequestDeadline(SchemaExtension):
    _started: float | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = time.monotonic()  # parsing and validation are inside the budget
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if (
            not isinstance(context, Context)
            or self.execution_context.operation_type is OperationType.SUBSCRIPTION
        ):
            yield
            return
        started = self._started if self._started is not None else time.monotonic()
        budget = context.services.settings.request_deadline_seconds
        with request_deadline(budget - (time.monotonic() - started)):
            yield
