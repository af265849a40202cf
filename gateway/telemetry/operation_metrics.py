"""GraphQL operations and their errors in Prometheus (docs/operations.md "Metrics").

`omnigate_graphql_operations_total{type, name}` counts each operation executed, over HTTP
or a websocket (a subscription once, when it starts); `omnigate_graphql_errors_total{code}`
counts the errors those operations answered, by `extensions.code` as the client saw it.

Operation names come from clients, so they are bounded: each process labels at most
`MAX_OPERATION_NAMES` distinct names and counts any further one as `(other)`. An operation
without a name is `(anonymous)`; a document that did not parse has type `(unknown)`.
Parentheses cannot occur in a GraphQL name, so none of these is ever a real operation's.

Refusals answered before any operation runs (401, 429 RATE_LIMITED, persisted query
refusals, CSRF, body size) are not operations: their own counters and the HTTP status in
`omnigate_http_request_duration_seconds` show them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema import Schema

from engine.errors import shape_errors
from gateway.metrics import Metrics

MAX_OPERATION_NAMES = 200
ANONYMOUS = "(anonymous)"
OTHER = "(other)"
UNKNOWN_TYPE = "(unknown)"


class OperationNames:
    """The operation names this process labels metrics with: first come, up to a limit."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        if name in self._seen:
            return name
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(name)
        return name


class OperationMetrics(SchemaExtension):
    def __init__(self, *, metrics: Metrics, names: OperationNames) -> None:
        self._metrics = metrics
        self._names = names

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:  # a parse error escapes the operation (engine/errors.py)
            self._count(shape_errors([error]))
            raise
        except Exception:
            self._count(None, failed=True)
            raise
        execution = self.execution_context
        errors = getattr(execution.result, "errors", None) or execution.pre_execution_errors
        self._count(errors)

    def _count(self, errors: Sequence[GraphQLError] | None, *, failed: bool = False) -> None:
        execution = self.execution_context
        try:
            kind = execution.operation_type.value
            name = self._names.label(execution.operation_name)
        except RuntimeError:  # the document did not parse: no operation to name
            kind, name = UNKNOWN_TYPE, ANONYMOUS
        self._metrics.graphql_operations.labels(kind, name).inc()
        if failed:
            self._metrics.graphql_errors.labels("INTERNAL_SERVER_ERROR").inc()
        for error in errors or ():
            code = (error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")
            self._metrics.graphql_errors.labels(str(code)).inc()


def count_operations(schema: Schema, metrics: Metrics) -> None:
    """Adds the operation counter to `schema`, outermost: it sees the errors as shaped."""
    names = OperationNames()
    schema.extensions = (
        lambda: OperationMetrics(metrics=metrics, names=names),
        *schema.extensions,
    )
