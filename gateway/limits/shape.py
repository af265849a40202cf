"""Depth, aliases and directives of an operation as it executes: a fragment counts once per
spread, so aliases multiplied through fragments are caught. Each fragment is measured once
(memoised), so a chain of fragments spreading each other twice costs linear time however
large the totals it reaches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Introspection's own nesting (`ofType { ofType { ... } }`) is bounded by the schema, and
# introspection is off in production; its depth is not the client's choice.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True, slots=True)
class Shape:
    depth: int = 0
    aliases: int = 0
    directives: int = 0


_EMPTY = Shape()


class ShapeMeter:
    """Measures the operations of one document; `fragment` looks a fragment up by name."""

    def __init__(self, fragment: Callable[[str], FragmentDefinitionNode | None]) -> None:
        self._fragment = fragment
        self._measured: dict[str, Shape] = {}
        self._measuring: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        inner = self._selections(operation.selection_set)
        return Shape(inner.depth, inner.aliases, inner.directives + len(operation.directives or ()))

    def _selections(self, selection_set: SelectionSetNode | None) -> Shape:
        if selection_set is None:
            return _EMPTY
        depth = aliases = directives = 0
        for selection in selection_set.selections:
            directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                if selection.selection_set is None:
                    continue
                inner = self._selections(selection.selection_set)
                if selection.name.value not in INTROSPECTION_FIELDS:
                    depth = max(depth, inner.depth + 1)
            elif isinstance(selection, InlineFragmentNode):
                inner = self._selections(selection.selection_set)
                depth = max(depth, inner.depth)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._spread(selection.name.value)
                depth = max(depth, inner.depth)
            else:  # pragma: no cover - the grammar has no other selection
                continue
            aliases += inner.aliases
            directives += inner.directives
        return Shape(depth, aliases, directives)

    def _spread(self, name: str) -> Shape:
        if name in self._measured:
            return self._measured[name]
        fragment = self._fragment(name)
        if fragment is None or name in self._measuring:
            return _EMPTY  # unknown or cyclic: graphql-core's own rules report those
        self._measuring.add(name)
        inner = self._selections(fragment.selection_set)
        self._measuring.discard(name)
        shape = Shape(inner.depth, inner.aliases, inner.directives + len(fragment.directives or ()))
        self._measured[name] = shape
        return shape
