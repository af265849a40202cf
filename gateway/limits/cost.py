"""The cost of an operation, checked before anything is fetched.

Weights: every field costs 1 (`__typename` and introspection cost nothing); a list field
multiplies the cost of its sub-selection by its size. The size of a list is its `first`
argument; a connection's `first` sizes its `edges` and `nodes`; a list field whose only
argument is a list (`_entities(representations:)`) is as long as that list; any other list
counts `default_list_size` elements. An argument's schema default applies when it is
omitted. So `products(first: 20) { edges { node { sku } } }` costs 1 + (1 + 20 * (1 + 1)).

Sizes given by variables are read per request: the document is compiled once into a plan
(a constant plus terms scaled by variable sizes), cached per document, and evaluated with
the request's variables, which for a document without variable sizes is a constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from graphql.pyutils import Undefined

from gateway.limits.document_key import DocumentKey
from gateway.limits.shape import INTROSPECTION_FIELDS

CONNECTION_LISTS = frozenset({"edges", "nodes"})


@dataclass(frozen=True, slots=True)
class VariableSize:
    """A list size given by a variable: its value, or its length when `length` is set."""

    variable: str
    fallback: int
    length: bool = False

    def of(self, variables: Mapping[str, Any]) -> int:
        value = variables.get(self.variable, Undefined)
        if self.length:
            return len(value) if isinstance(value, list) else self.fallback
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
        return self.fallback  # absent or ill-typed: coercion reports the latter


Size = int | VariableSize


@dataclass(frozen=True, slots=True)
class CostPlan:
    """fixed + sum of coefficient * size(variables) * sub-plan's cost"""

    fixed: int = 0
    terms: tuple[tuple[int, VariableSize, CostPlan], ...] = ()

    def __add__(self, other: CostPlan) -> CostPlan:
        return CostPlan(self.fixed + other.fixed, self.terms + other.terms)

    def scaled(self, factor: int) -> CostPlan:
        return CostPlan(self.fixed * factor, tuple((c * factor, s, p) for c, s, p in self.terms))

    def cost(self, variables: Mapping[str, Any]) -> int:
        total = self.fixed
        for coefficient, size, plan in self.terms:
            total += coefficient * size.of(variables) * plan.cost(variables)
        return total


_FREE = CostPlan()
_ONE = CostPlan(1)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    default_list_size: int,
) -> int:
    """The cost of the operation that runs; of the dearest one when that is ambiguous."""
    plans = _plans(schema, DocumentKey(document), default_list_size)
    if operation_name is not None and operation_name in plans:
        selected = [plans[operation_name]]
    else:
        selected = list(plans.values())
    return max((plan.cost(variables or {}) for plan in selected), default=0)


@lru_cache(maxsize=512)
def _plans(
    schema: GraphQLSchema, key: DocumentKey, default_list_size: int
) -> dict[str | None, CostPlan]:
    document = key.document
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    plans: dict[str | None, CostPlan] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            planner = _Planner(schema, fragments, definition, default_list_size)
            root = schema.get_root_type(definition.operation)
            name = definition.name.value if definition.name else None
            plans[name] = planner.selections(root, definition.selection_set, None)
    return plans


class _Planner:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        default_list_size: int,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._defaults = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or ()
        }
        self._default_list_size = default_list_size
        self._planned: dict[tuple[str, Size | None], CostPlan] = {}
        self._planning: set[str] = set()

    def selections(
        self,
        parent: GraphQLNamedType | None,
        selection_set: SelectionSetNode | None,
        connection_size: Size | None,
    ) -> CostPlan:
        plan = _FREE
        if selection_set is None:
            return plan
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                plan += self._field(parent, selection, connection_size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                type_ = self._schema.get_type(condition.name.value) if condition else parent
                plan += self.selections(type_, selection.selection_set, connection_size)
            elif isinstance(selection, FragmentSpreadNode):
                plan += self._spread(selection.name.value, connection_size)
        return plan

    def _spread(self, name: str, connection_size: Size | None) -> CostPlan:
        key = (name, connection_size)
        if key in self._planned:
            return self._planned[key]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._planning:
            return _FREE  # unknown or cyclic: graphql-core's own rules report those
        self._planning.add(name)
        type_ = self._schema.get_type(fragment.type_condition.name.value)
        plan = self.selections(type_, fragment.selection_set, connection_size)
        self._planning.discard(name)
        self._planned[key] = plan
        return plan

    def _field(
        self, parent: GraphQLNamedType | None, node: FieldNode, connection_size: Size | None
    ) -> CostPlan:
        name = node.name.value
        if name == "__typename" or name in INTROSPECTION_FIELDS:
            return _FREE
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if fields else None
        if definition is None:
            return _ONE  # not in the schema: validation has refused it already
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        size = self._slice_size(node, definition.args)
        child_connection = size if size is not None and not is_list else None
        named = get_named_type(definition.type)
        inner = (
            self.selections(named, node.selection_set, child_connection)
            if isinstance(named, GraphQLObjectType) or node.selection_set
            else _FREE
        )
        if not is_list:
            return _ONE + inner
        if size is None:
            in_connection = name in CONNECTION_LISTS and connection_size is not None
            size = connection_size if in_connection else self._default_list_size
        assert size is not None
        if isinstance(size, int):
            return _ONE + inner.scaled(size)
        return _ONE + CostPlan(0, ((1, size, inner),))

    def _slice_size(self, node: FieldNode, args: Mapping[str, Any]) -> Size | None:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        if "first" in args:
            schema_default = args["first"].default_value
            fallback = schema_default if isinstance(schema_default, int) else None
            return self._int_size(given.get("first"), fallback)
        required_lists = [
            n for n, a in args.items() if isinstance(get_nullable_type(a.type), GraphQLList)
        ]
        if len(args) == 1 and required_lists:
            return self._length_size(given.get(required_lists[0]))
        return None

    def _int_size(self, value: ValueNode | None, fallback: int | None) -> Size | None:
        default = fallback if fallback is not None else self._default_list_size
        if value is None:
            return fallback
        if isinstance(value, IntValueNode):
            return max(int(value.value), 0)
        if isinstance(value, VariableNode):
            name = value.name.value
            declared = self._defaults.get(name)
            if isinstance(declared, IntValueNode):
                default = max(int(declared.value), 0)
            return VariableSize(name, default)
        return default  # null: the resolver's default or a coercion error

    def _length_size(self, value: ValueNode | None) -> Size | None:
        if isinstance(value, ListValueNode):
            return len(value.values)
        if isinstance(value, VariableNode):
            declared = self._defaults.get(value.name.value)
            default = len(declared.values) if isinstance(declared, ListValueNode) else 1
            return VariableSize(value.name.value, default, length=True)
        return None
