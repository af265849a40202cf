"""The display principal's scope, applied before an operation executes: a display asking
for a root field outside `commerce.access.DISPLAY_FIELDS` gets FORBIDDEN at that field's
path and nothing of the operation runs, so nothing is fetched upstream.

Subscriptions are not executed through this path (Strawberry subscribes without asking for
a ready result), so each subscription field checks for itself (`live_stock_scope`, and
`cartUpdated`).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast
from strawberry.types import ExecutionContext

from commerce.access import DISPLAY_REFUSED, display_refusals
from commerce.principal import Principal, PrincipalKind

ROOT_TYPES = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}


def display_refusal(execution: ExecutionContext) -> ExecutionResult | None:
    """The refusal to answer in place of executing, or None to execute as usual."""
    principal = getattr(execution.context, "principal", None)
    if not isinstance(principal, Principal) or principal.kind is not PrincipalKind.DISPLAY:
        return None
    document = execution.graphql_document
    if document is None:
        return None
    operation = get_operation_ast(document, execution.operation_name)
    if operation is None:
        return None
    root = ROOT_TYPES[operation.operation.value]
    fields = dict(_root_fields(document, operation))
    refused = set(display_refusals(principal, [f"{root}.{name}" for name in fields.values()]))
    if not refused:
        return None
    errors = [
        GraphQLError(DISPLAY_REFUSED, path=[key], extensions={"code": "FORBIDDEN"})
        for key, name in fields.items()
        if f"{root}.{name}" in refused
    ]
    return ExecutionResult(data=None, errors=errors)


def _root_fields(
    document: DocumentNode, operation: OperationDefinitionNode
) -> Iterator[tuple[str, str]]:
    """(response key, field name) of every root field, through fragments, whatever the
    directives say (a skipped field is refused all the same)."""
    fragments = {
        definition.name.value: definition.selection_set
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> Iterator[tuple[str, str]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                yield key, selection.name.value
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    yield from walk(fragments[name])

    yield from walk(operation.selection_set)
