"""Shopify's calculated query cost, before execution (requested) and after (actual).

The rules, from https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits:
scalars and enums cost 0; an object costs 1; an interface or union costs the most
expensive of its possible selections; a connection costs 2 plus, for each node its
`first`/`last` asks for, the node's own cost (1 + its selection); a mutation field costs
10. `edges`, `cursor` and `pageInfo` ride on the connection's 2 points. The requested cost
sizes every connection by its argument; the actual cost counts the nodes that came back,
which is why Shopify refunds the difference.

Lists of objects that are not connections (`nodes(ids:)`) are sized by their `ids`.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
_ABSENT = object()  # for actual cost: the field was not in this object's result


class QueryCost:
    """Computes costs for one operation of a parsed, validated document."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables
        root = schema.mutation_type if operation.operation == OperationType.MUTATION else None
        self.is_mutation = root is not None
        root = root or schema.query_type
        assert root is not None
        self.root: GraphQLObjectType = root

    def requested(self) -> int:
        return self._fields(self.root, self.operation.selection_set, _ABSENT, top=True)

    def actual(self, data: dict[str, Any] | None) -> int:
        return self._fields(self.root, self.operation.selection_set, data or {}, top=True)

    # `data` is _ABSENT while pricing the request, the result dict while pricing the answer.

    def _fields(
        self, parent: GraphQLObjectType, selection: SelectionSetNode, data: Any, top: bool = False
    ) -> int:
        total = 0
        for node in self._collect(parent, selection):
            key = node.alias.value if node.alias else node.name.value
            value = data if data is _ABSENT else data.get(key, _ABSENT)
            if value is _ABSENT and data is not _ABSENT:
                continue  # not part of this object's answer (another type's fragment)
            cost = self._field(parent, node, value)
            # A mutation field is priced at 10 in place of the 1 its payload object would cost.
            total += MUTATION_COST + max(cost - 1, 0) if top and self.is_mutation else cost
        return total

    def _field(self, parent: GraphQLObjectType, node: FieldNode, value: Any) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None or node.name.value.startswith("__"):
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named) or node.selection_set is None:
            return 0
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
            return 2 + self._connection_nodes(named, node, value)
        if is_list_type(get_nullable_type(definition.type)):
            if value is _ABSENT:
                ids = self._argument(node, "ids")
                slots = len(ids) if isinstance(ids, list) else 1
                return slots * (1 + self._object(named, node.selection_set, _ABSENT))
            items = value if isinstance(value, list) else []
            return sum(1 + self._object(named, node.selection_set, i) for i in items)
        return 1 + self._object(named, node.selection_set, value)

    def _connection_nodes(self, conn: GraphQLObjectType, node: FieldNode, value: Any) -> int:
        assert node.selection_set is not None
        if value is _ABSENT:
            size = self._argument(node, "first") or self._argument(node, "last") or 0
            per_node = 0
            for part in self._collect(conn, node.selection_set):
                per_node += self._node_part(conn, part, _ABSENT)
            return int(size) * per_node
        if not isinstance(value, dict):
            return 0
        total = 0
        for part in self._collect(conn, node.selection_set):
            key = part.alias.value if part.alias else part.name.value
            items = value.get(key) if part.name.value in ("edges", "nodes") else None
            for item in items or []:
                total += self._node_part(conn, part, item)
        return total

    def _node_part(self, conn: GraphQLObjectType, part: FieldNode, value: Any) -> int:
        """Cost of one node as reached through `edges { node }` or `nodes`."""
        name = part.name.value
        if part.selection_set is None or name not in ("edges", "nodes"):
            return 0  # pageInfo and friends are included in the connection's base cost
        item_type = get_named_type(conn.fields[name].type)
        if name == "nodes":
            return 1 + self._object(item_type, part.selection_set, value)
        assert isinstance(item_type, GraphQLObjectType)
        total = 0
        for edge_field in self._collect(item_type, part.selection_set):
            if edge_field.name.value == "node" and edge_field.selection_set is not None:
                key = edge_field.alias.value if edge_field.alias else "node"
                inner = value if value is _ABSENT else (value or {}).get(key)
                node_type = get_named_type(item_type.fields["node"].type)
                total += 1 + self._object(node_type, edge_field.selection_set, inner)
        return total

    def _object(self, named: Any, selection: SelectionSetNode, value: Any) -> int:
        if value is None:
            return 0
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            options = self.schema.get_possible_types(named)
            return max((self._fields(t, selection, value) for t in options), default=0)
        return self._fields(named, selection, value)

    def _collect(self, parent: GraphQLObjectType, selection: SelectionSetNode) -> list[FieldNode]:
        """The fields that apply to `parent`, with fragments expanded by type condition."""
        fields: list[FieldNode] = []
        for item in selection.selections:
            if isinstance(item, FieldNode):
                fields.append(item)
                continue
            if isinstance(item, InlineFragmentNode):
                condition, inner = item.type_condition, item.selection_set
            elif isinstance(item, FragmentSpreadNode) and item.name.value in self.fragments:
                fragment = self.fragments[item.name.value]
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                continue
            if condition is None or self._applies(condition.name.value, parent):
                fields.extend(self._collect(parent, inner))
        return fields

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        if condition == parent.name:
            return True
        target = self.schema.get_type(condition)
        if isinstance(target, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.is_sub_type(target, parent)
        return False

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return None
