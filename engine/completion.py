"""Completers: functions that turn a resolved value into its part of the answer in one pass.

Leans on private internals of graphql-core 3.3 (no Strawberry's): `FieldDetailsList` from
`graphql.execution.collect_fields`, and what `Executor.complete_value` does (non-null
checks, lists, leaves through `coerce_output_value`), which the generated code reproduces.
tests/test_execution.py fails when those change.

A completer is generated as Python source, one function per value type and selection (a
list's items get their own), so a plain field costs an attribute read and a type check
instead of two closure calls. For `price { amount currency }` the generated code is

    def complete(value):
        return (None if (v1 := value) is None else {
            "amount": (v2 if type(v2 := v1.amount) is str else _2(v2)), ...})

Names are GraphQL names (checked by the parser, and quoted) and Python attribute names
(checked to be identifiers); every other object the code uses is passed in by reference.
Anything a completer cannot answer raises `Fallback` with one of `FALLBACK_REASONS` (or
whatever reading an attribute raised), and the executor's normal path answers instead
(engine/execution.py).
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, get_args

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Undefined, UndefinedType

Completer = Callable[[Any], Any]

# Objects nested deeper than this in one generated function get a function of their own:
# the expression stays well inside the parser's nesting limit.
MAX_INLINE_DEPTH = 8


# Why the fast path handed a value to graphql-core's path (a Prometheus label: keep it short)
FallbackReason = Literal[
    "not_prefetched",  # a prefetched() field whose parent holds no value: the resolver runs
    "null_in_non_null",  # None where the schema says non-null
    "not_a_list",  # a list field's value is neither a list nor a tuple (a generator...)
    "unserialisable",  # a scalar's or enum's coerce_output_value raised or gave no value
    "resolver_raised",  # a pure() resolver raised
    "read_raised",  # reading a plain field (an attribute) raised
    "bad_arguments",  # a pure() resolver's literal arguments did not convert (when planned)
]
FALLBACK_REASONS: tuple[FallbackReason, ...] = get_args(FallbackReason)


class Fallback(Exception):
    """The fast path cannot answer this value; the normal path will."""

    def __init__(self, reason: FallbackReason) -> None:
        super().__init__(reason)
        self.reason: FallbackReason = reason


class FieldRead(NamedTuple):
    """How one selected field of an object is read: by its attribute when that is all it
    is, else by calling `read` with the object; `__typename` is a constant."""

    response_name: str
    read: Completer
    attribute: str | None
    typename: str | None
    return_type: GraphQLOutputType
    field_details_list: FieldDetailsList


# The selected fields of an object type, or None when one of them is not fast
SelectedFields = Callable[[GraphQLObjectType, FieldDetailsList], list[FieldRead] | None]


def build_completer(
    return_type: GraphQLOutputType,
    field_details_list: FieldDetailsList,
    selected_fields: SelectedFields,
) -> Completer | None:
    """The completer for values of `return_type` selected by `field_details_list`, or None
    when some field below is not fast."""
    code = _Code(selected_fields)
    expression = code.complete(return_type, field_details_list, "value", 0)
    return None if expression is None else code.function(expression)


def _null() -> Any:
    raise Fallback("null_in_non_null")


def _not_a_list() -> Any:
    raise Fallback("not_a_list")


class _Code:
    def __init__(self, selected_fields: SelectedFields) -> None:
        self._selected_fields = selected_fields
        self._names: dict[str, object] = {"_null": _null, "_not_a_list": _not_a_list}
        self._temporaries = 0

    def function(self, expression: str) -> Completer:
        source = f"def complete(value):\n    return {expression}\n"
        namespace: dict[str, Any] = dict(self._names)
        exec(compile(source, "<omnigate completer>", "exec"), namespace)
        function: Completer = namespace["complete"]
        return function

    def ref(self, value: object) -> str:
        name = f"_{len(self._names)}"
        self._names[name] = value
        return name

    def temporary(self) -> str:
        self._temporaries += 1
        return f"v{self._temporaries}"

    def complete(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        source: str,
        depth: int,
    ) -> str | None:
        """An expression completing the value of `source`, evaluated exactly once."""
        if isinstance(return_type, GraphQLNonNull):
            inner_type = return_type.of_type
            if isinstance(inner_type, GraphQLScalarType | GraphQLEnumType):
                return self._leaf(inner_type, source, non_null=True)
            inner = self.complete(inner_type, field_details_list, source, depth)
            if inner is None:
                return None
            v = self.temporary()
            return f"({v} if ({v} := {inner}) is not None else _null())"
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return self._leaf(return_type, source, non_null=False)
        if isinstance(return_type, GraphQLList):
            return self._list(return_type.of_type, field_details_list, source, depth)
        if isinstance(return_type, GraphQLObjectType):
            if depth >= MAX_INLINE_DEPTH:
                separate = build_completer(return_type, field_details_list, self._selected_fields)
                return None if separate is None else f"{self.ref(separate)}({source})"
            return self._object(return_type, field_details_list, source, depth)
        return None  # interfaces and unions need runtime type resolution

    def _list(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        source: str,
        depth: int,
    ) -> str | None:
        if depth >= MAX_INLINE_DEPTH:
            item = build_completer(item_type, field_details_list, self._selected_fields)
            return None if item is None else f"{self.ref(_list_of(item))}({source})"
        v, element = self.temporary(), self.temporary()
        item_expression = self.complete(item_type, field_details_list, element, depth + 1)
        if item_expression is None:
            return None
        # lists and tuples only: reading a generator here would leave nothing to the
        # normal path should it have to take over
        items = f"({v} if type({v}) is list or type({v}) is tuple else _not_a_list())"
        return (
            f"(None if ({v} := {source}) is None else [{item_expression} for {element} in {items}])"
        )

    def _object(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        source: str,
        depth: int,
    ) -> str | None:
        fields = self._selected_fields(object_type, field_details_list)
        if fields is None:
            return None
        v = self.temporary()
        entries = []
        for field in fields:
            if field.typename is not None:
                entries.append(f"{field.response_name!r}: {field.typename!r}")
                continue
            if field.attribute is not None:
                read = f"{v}.{field.attribute}"
            else:
                read = f"{self.ref(field.read)}({v})"
            value = self.complete(field.return_type, field.field_details_list, read, depth + 1)
            if value is None:
                return None
            entries.append(f"{field.response_name!r}: {value}")
        return f"(None if ({v} := {source}) is None else {{{', '.join(entries)}}})"

    def _leaf(
        self, leaf_type: GraphQLScalarType | GraphQLEnumType, source: str, *, non_null: bool
    ) -> str:
        generic = self.ref(_non_null_leaf(leaf_type) if non_null else _leaf(leaf_type))
        v = self.temporary()
        # graphql-core's own scalars answer values of these exact types with the value
        if leaf_type is GraphQLString or leaf_type is GraphQLID:
            check = f"type({v} := {source}) is str"
        elif leaf_type is GraphQLBoolean:
            check = f"type({v} := {source}) is bool"
        elif leaf_type is GraphQLInt:
            check = f"type({v} := {source}) is int and -2147483648 <= {v} <= 2147483647"
        elif leaf_type is GraphQLFloat:
            check = f"type({v} := {source}) is float and {self.ref(math.isfinite)}({v})"
        else:
            return f"{generic}({source})"
        return f"({v} if {check} else {generic}({v}))"


def is_attribute_name(name: str) -> bool:
    """Whether `value.<name>` reads the attribute `name`."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")


def _leaf(leaf_type: GraphQLScalarType | GraphQLEnumType) -> Completer:
    # what graphql-core's complete_leaf_value calls (not the deprecated `serialize`)
    coerce = leaf_type.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        try:
            result = coerce(value)
        except Exception as error:
            raise Fallback("unserialisable") from error
        if result is Undefined or isinstance(result, UndefinedType) or result is None:
            raise Fallback("unserialisable")
        return result

    return complete


def _non_null_leaf(leaf_type: GraphQLScalarType | GraphQLEnumType) -> Completer:
    nullable = _leaf(leaf_type)

    def complete(value: Any) -> Any:
        result = nullable(value)
        if result is None:
            raise Fallback("null_in_non_null")
        return result

    return complete


def _list_of(item: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        # lists and tuples only: reading a generator here would leave nothing to the
        # normal path should it have to take over
        if type(value) is not list and type(value) is not tuple:
            raise Fallback("not_a_list")
        return [item(element) for element in value]

    return complete
