"""A graphql-core execution context that completes trivial sub-trees in one pass.

Most of a retail answer is plain data: `price { amount currency }`, `store { id name }`,
`quantity`, repeated for every product and store. graphql-core spends ~5 µs per such field
(a Path, a ResolveInfo, a resolver call, awaitable checks, completion), which for 20
products with stock is most of the gateway's CPU. A field is *trivial* when Strawberry
marks its resolver as the default attribute read (`_is_default`), it takes no arguments,
carries no directive and is not deferred, and its type is a scalar, an enum, or an object
type whose selected fields are all trivial (lists and non-null wrappers of those too).
Such a field is read and serialised directly, its whole sub-tree at once.

Anything unusual (a null where the schema says non-null, a value that does not serialise)
falls back to the normal path for that field, which re-reads the same attribute (plain
reads have no side effects) and reports the error exactly as graphql-core would. Plans
are kept per execution, keyed on the identity of graphql-core's memoised field groups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path, Undefined, UndefinedType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

Completer = Callable[[Any], Any]


class _Fallback(Exception):
    """The fast path cannot answer this value; the normal path will."""


class TrivialFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (graphql-core's incremental one), with the trivial-field fast path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(field_details_list) -> (the list, kept alive so its id is not reused; completer
        # for the field's value or None when it is not trivial; the attribute reader)
        self._plans: dict[
            tuple[str, int], tuple[FieldDetailsList, Completer | None, Completer | None]
        ] = {}
        # (id(return_type), id(field_details_list)) -> (the list, kept alive; completer)
        self._value_plans: dict[tuple[int, int], tuple[FieldDetailsList, Completer | None]] = {}

    @property
    def _no_middleware(self) -> bool:
        # field middleware (a Strawberry extension with a `resolve` hook) must see every field
        manager = self.middleware_manager
        return manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        key = (parent_type.name, id(field_details_list))
        plan = self._plans.get(key)
        if plan is None:
            read, complete = self._plan_field(parent_type, field_details_list)
            plan = (field_details_list, complete, read)
            self._plans[key] = plan
        _, complete, read = plan
        if complete is not None and read is not None and self._no_middleware:
            try:
                return complete(read(source))
            except Exception:
                pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A resolver's answer (e.g. the list a field with arguments returns) whose type is
        trivial below it is completed in one pass too."""
        key = (id(return_type), id(field_details_list))
        plan = self._value_plans.get(key)
        if plan is None:
            plan = (field_details_list, self._completer(return_type, field_details_list))
            self._value_plans[key] = plan
        complete = plan[1]
        if complete is not None and not self.is_awaitable(result):
            try:
                return complete(result)
            except Exception:
                pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plan_field(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[Completer | None, Completer | None]:
        read = self._reader(parent_type, field_details_list)
        if read is None:
            return None, None
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        assert field_def is not None  # _reader checked it
        return read, self._completer(field_def.type, field_details_list)

    def _reader(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        first = field_details_list[0].node
        if first.name.value == "__typename":
            type_name = parent_type.name
            return lambda _source: type_name
        field_def = self.schema.get_field(parent_type, first.name.value)
        if field_def is None or field_def.args:
            return None
        if not getattr(field_def.resolve, "_is_default", False):
            return None
        if any(d.defer_usage or d.node.arguments or d.node.directives for d in field_details_list):
            return None
        definition = field_def.extensions.get("strawberry-definition")
        if definition is None:
            return None
        default_resolver = definition.default_resolver
        python_name = definition.python_name
        return lambda source: default_resolver(source, python_name)

    def _completer(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        if isinstance(return_type, GraphQLNonNull):
            inner = self._completer(return_type.of_type, field_details_list)
            return None if inner is None else _non_null(inner)
        if isinstance(return_type, GraphQLList):
            item = self._completer(return_type.of_type, field_details_list)
            return None if item is None else _list_of(item)
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(return_type.serialize)
        if isinstance(return_type, GraphQLObjectType):
            return self._object_completer(return_type, field_details_list)
        return None  # interfaces and unions need runtime type resolution

    def _object_completer(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        fields: list[tuple[str, Completer, Completer]] = []
        for response_name, sub_details in grouped_field_set.items():
            read, complete = self._plan_field(object_type, sub_details)
            if read is None or complete is None:
                return None
            fields.append((response_name, read, complete))

        def complete_object(value: Any) -> Any:
            if value is None:
                return None
            return {name: complete(read(value)) for name, read, complete in fields}

        return complete_object


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        result = inner(value)
        if result is None:
            raise _Fallback
        return result

    return complete


def _list_of(item: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | bytes | dict):
            raise _Fallback  # graphql-core reports these as non-iterable
        return [item(element) for element in value]

    return complete


def _leaf(serialize: Callable[[Any], Any]) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        result = serialize(value)
        if result is Undefined or isinstance(result, UndefinedType) or result is None:
            raise _Fallback
        return result

    return complete
