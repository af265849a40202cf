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

from collections.abc import Sequence

from graphql import GraphQLError
from prometheus_client import Counter
from strawberry.types import ExecutionContext

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


class OperationCounter:
    """Told by the engine's operation extension of every operation's end, with its errors
    as the client sees them (engine/operation.py): one hook for both, not one each."""

    def __init__(self, metrics: Metrics, names: OperationNames | None = None) -> None:
        self._metrics = metrics
        self._names = names or OperationNames()
        # (type, name) -> its counter child: `labels()` validates and locks on every use.
        # Bounded as the names are.
        self._operation_children: dict[tuple[str, str], Counter] = {}

    def operation_ended(
        self,
        execution: ExecutionContext,
        errors: Sequence[GraphQLError] | None,
        *,
        failed: bool = False,
    ) -> None:
        try:
            kind = execution.operation_type.value
            name = self._names.label(execution.operation_name)
        except RuntimeError:  # the document did not parse: no operation to name
            kind, name = UNKNOWN_TYPE, ANONYMOUS
        child = self._operation_children.get((kind, name))
        if child is None:
            child = self._metrics.graphql_operations.labels(kind, name)
            self._operation_children[kind, name] = child
        child.inc()
        if failed:
            self._metrics.graphql_errors.labels("INTERNAL_SERVER_ERROR").inc()
        for error in errors or ():
            code = (error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")
            self._metrics.graphql_errors.labels(str(code)).inc()
