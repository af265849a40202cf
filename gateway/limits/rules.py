"""Validation rules for depth, aliases and directives, and the introspection refusal. They
read only the document, so the validation cache runs them once per distinct document (and,
for NoIntrospection, per whether this request may introspect: validation.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationRule,
)
from graphql.language.visitor import SKIP, VisitorAction

from gateway.limits.policy import OperationLimits
from gateway.limits.refusal import too_complex
from gateway.limits.shape import INTROSPECTION_FIELDS, ShapeMeter

INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"


@cache
def limit_rules(limits: OperationLimits) -> tuple[type[ValidationRule], ...]:
    """The same classes for the same limits, so the validation cache's key stays stable."""

    class OperationShapeRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            meter = ShapeMeter(self.context.get_fragment)
            for definition in node.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    for error in _shape_errors(meter, definition, limits):
                        self.report_error(error)
            return SKIP

    return (OperationShapeRule,)


def _shape_errors(
    meter: ShapeMeter, operation: OperationDefinitionNode, limits: OperationLimits
) -> list[GraphQLError]:
    shape = meter.operation(operation)
    checks = (
        ("depth", shape.depth, limits.max_depth, "max_depth"),
        ("aliases", shape.aliases, limits.max_aliases, "max_aliases"),
        ("directives", shape.directives, limits.max_directives, "max_directives"),
    )
    return [
        too_complex(
            f"Operation refused: {measure} {value} exceeds the limit of {limit} ({setting}).",
            operation,
        )
        for measure, value, limit, setting in checks
        if value > limit
    ]


# Federation's `Query._service { sdl }` prints the whole schema: with introspection off it
# would hand out everything `__schema` is refused for. A router composing the supergraph at
# run time needs it, so a deployment behind one turns introspection on (docs/security.md).
SDL_FIELD = "_service"


class NoIntrospection(ValidationRule):
    """graphql-core's NoSchemaIntrospectionCustomRule with a code of its own; it refuses
    the federation SDL too."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS or self._is_sdl(node):
            self.report_error(
                GraphQLError(
                    f"Introspection is disabled; the operation asked for '{node.name.value}'.",
                    node,
                    extensions={"code": INTROSPECTION_DISABLED},
                )
            )

    def _is_sdl(self, node: FieldNode) -> bool:
        parent = self.context.get_parent_type()
        query = self.context.schema.query_type
        return node.name.value == SDL_FIELD and parent is not None and parent is query
