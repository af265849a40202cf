"""Shopify's own response bodies for refusals, word for word where Shopify is known to be.

Auth failures and unreadable requests are HTTP errors with a bare `errors` value; every
refusal that happens once the query is understood (too costly, throttled, input too large)
is an HTTP 200 GraphQL response with `errors[].extensions.code`, as Shopify sends them.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MAX_INPUT_ARRAY = 250
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"

INVALID_TOKEN = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
BAD_REQUEST = {"errors": {"query": "Required parameter missing or invalid"}}


def max_cost_exceeded(cost: int) -> dict[str, Any]:
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit "
        f"({MAX_QUERY_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
        "cost of a query is calculated.\n\n"
        "To query larger amounts of data with fewer limits, bulk operations should be used "
        "instead.\n"
        "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage "
        "details.\n"
    )
    extensions = {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST}
    return {"errors": [{"message": message, "extensions": extensions}]}


def throttled(cost_extension: dict[str, Any]) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
            }
        ],
        "extensions": {"cost": cost_extension},
    }


def oversized_inputs(
    selection: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    path: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Shopify refuses any array argument longer than 250 items, before running anything."""
    errors: list[dict[str, Any]] = []
    for item in selection.selections:
        if isinstance(item, FieldNode):
            key = item.alias.value if item.alias else item.name.value
            for argument in item.arguments or ():
                value = value_from_ast_untyped(argument.value, variables)
                if isinstance(value, list) and len(value) > MAX_INPUT_ARRAY:
                    errors.append(
                        _input_too_large(len(value), item, [*path, key, argument.name.value])
                    )
            if item.selection_set is not None:
                errors += oversized_inputs(item.selection_set, fragments, variables, (*path, key))
        elif isinstance(item, InlineFragmentNode):
            errors += oversized_inputs(item.selection_set, fragments, variables, path)
        elif isinstance(item, FragmentSpreadNode) and item.name.value in fragments:
            inner = fragments[item.name.value].selection_set
            errors += oversized_inputs(inner, fragments, variables, path)
    return errors


def _input_too_large(size: int, node: FieldNode, path: list[str]) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": (
            f"The input array size of {size} is greater than the maximum allowed of "
            f"{MAX_INPUT_ARRAY}."
        ),
        "path": path,
        "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"},
    }
    if node.loc is not None:
        error["locations"] = [
            {"line": node.loc.start_token.line, "column": node.loc.start_token.column}
        ]
    return error
