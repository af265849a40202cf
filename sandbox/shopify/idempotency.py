"""Shopify's `@idempotent(key:)` directive, as the mutations that honour it read it."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo, get_argument_values


def idempotency_key(info: GraphQLResolveInfo[Any]) -> str | None:
    """The key the field's `@idempotent` directive gives, or None without one."""
    directive = info.schema.get_directive("idempotent")
    for node in info.field_nodes:
        for used in node.directives or ():
            if directive is not None and used.name.value == "idempotent":
                return str(get_argument_values(directive, used, info.variable_values)["key"])
    return None
