"""The GraphQL schema as the runtime serves it: the resolvers' types behind its operation
limits. The one module of the runtime that imports the schema (an import-linter contract)."""

from __future__ import annotations

from strawberry.federation import Schema

from engine.execution import FastExecutionObserver
from engine.operation import OperationObserver
from gateway.limits import LimitedDocument, OperationLimits
from resolvers.schema import build_schema as build_resolver_schema


def build_schema(
    limits: OperationLimits | None = None,
    *,
    fast_execution: bool = True,
    verify_fast_execution: bool = False,
    execution_observer: FastExecutionObserver | None = None,
    operation_observer: OperationObserver | None = None,
) -> Schema:
    """`limits` default to the development ones (introspection and suggestions on); they
    change what is accepted, never the printed SDL. The rest: resolvers/schema.py."""
    policy = limits or OperationLimits.defaults()
    return build_resolver_schema(
        [
            # Clients repeat the same few operations: parse and validate each once (limits
            # included). The caches live at module level, so a fresh extension per request
            # still hits them.
            LimitedDocument.for_limits(policy, maxsize=512),
        ],
        fast_execution=fast_execution,
        verify_fast_execution=verify_fast_execution,
        execution_observer=execution_observer,
        operation_observer=operation_observer,
    )
