"""What the operation asks for below a field, for resolvers that fetch ahead for a page.

Leans on private internals of Strawberry 0.341: `Info._raw_info`, the graphql-core resolve
info under Strawberry's (tests/test_execution.py fails when it changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)


def selects(info: Any, *path: str) -> bool:
    """Whether the operation selects the field at `path` (schema names, not aliases) below
    the field `info` resolves, through fragments whatever their type condition.

    A selection that carries a directive counts as not selected: callers use this to fetch
    ahead, and not fetching ahead is always correct, while fetching for a field `@skip`
    leaves out would cost an upstream call the answer does not need.
    """
    raw = info._raw_info  # Strawberry's Info over graphql-core's
    return any(_selects(node.selection_set, path, raw.fragments) for node in raw.field_nodes)


def _selects(
    selection_set: SelectionSetNode | None,
    path: tuple[str, ...],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> bool:
    if selection_set is None:
        return False
    name, rest = path[0], path[1:]
    for selection in selection_set.selections:
        if selection.directives:
            continue
        if isinstance(selection, FieldNode):
            if selection.name.value == name and (
                not rest or _selects(selection.selection_set, rest, fragments)
            ):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects(selection.selection_set, path, fragments):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _selects(fragment.selection_set, path, fragments):
                return True
    return False
