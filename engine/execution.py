"""A graphql-core execution context that completes plain sub-trees in one pass.

Leans on private internals of graphql-core 3.3 and Strawberry 0.341. graphql-core: the
`Executor` methods overridden or called (`execute_field`, `complete_value`,
`collect_subfields`, `build_response`, `build_resolve_info`, `handle_field_error`) and its
attributes (`collected_errors` and `CollectedErrors`, `async_helpers`,
`middleware_manager`, `fragment_definitions`), `FieldDetails`, `get_argument_values`,
`GraphQLResolveInfoHelpers`. Strawberry: `StrawberryGraphQLCoreExecutionContext`, the
`strawberry-definition` extension of each field and the `StrawberryField` and
`StrawberryResolver` attributes read from it, `convert_arguments`, the GraphQL schema's
`_strawberry_schema` and its `schema_converter`. pyproject.toml pins both to their minor;
tests/test_execution.py fails when one of these changes.

Most of a retail answer is plain data: `price { amount currency }`, `store { id name }`,
`quantity`, repeated for every product and store. graphql-core spends ~5 µs per such field
(a Path, a ResolveInfo, a resolver call, awaitable checks, completion), which for 20
products with stock was most of the gateway's CPU. A field is *fast* when its value can be
had without graphql-core's machinery and it carries no directive and is not deferred:

- a plain attribute (a Strawberry field with no resolver and no field extension);
- a `pure()` resolver (engine/field_hints.py) whose arguments are literals of built-in
  scalar or enum types: the function is called with the arguments converted once;
- a `prefetched(attribute)` field whose parent holds its value already.

A fast field whose type is a scalar, an enum, or an object type whose selected fields are
all fast (lists and non-null wrappers of those too) is read and serialised directly, its
whole sub-tree at once; so is a resolver's answer whose type is fast below it (a list of
stores, a page of products).

Anything unusual falls back to the normal path for that field, which reads the same values
again (reads and pure resolvers have no side effects) and reports any error exactly as
graphql-core would: the fast path itself reports nothing. Each fallback is handed to the
schema's `FastExecutionObserver` with its reason (`FALLBACK_REASONS`: gateway/metrics.py
counts them) and logged at DEBUG with the field's path and the exception. One odd value
deep in a sub-tree is counted once per level: the sub-tree falls back, then the field
holding it, down to the value.

Verifying mode (`TrivialFieldExecutor.configured(verify=True)`, or every executor of the
process after `verify_every_execution`: the test suite's): each sub-tree the fast path
answered is answered again by graphql-core's own path from the same source, with the fast
path off (attribute fields and pure resolvers read again, a prefetched value taken as it
is: no asynchronous resolver runs twice), and the two must be equal, errors included; each
fallback for a reason that means an error (`ERROR_REASONS`) must be followed by
graphql-core reporting one. A difference is logged at ERROR, handed to the process's
report, and answered as an error at that field (`FastExecutionMismatch`).

Plans depend on the schema and the document only, so they are kept across requests for
each parsed operation (the parser's cache hands out the same document for the same text),
unless a directive or fragment argument takes a variable: then which fields are selected
depends on the request, and plans are kept for that execution only.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Collection, Sequence
from functools import partial
from inspect import iscoroutine
from operator import attrgetter
from types import CodeType
from typing import Any, ClassVar, Protocol

from graphql import (
    ExecutionResult,
    ExperimentalIncrementalExecutionResults,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from graphql.execution.collect_fields import FieldDetails, FieldDetailsList
from graphql.execution.executor import CollectedErrors
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from engine.completion import (
    FALLBACK_REASONS,
    Completer,
    Fallback,
    FallbackReason,
    FieldRead,
    build_completer,
    is_attribute_name,
)
from engine.field_hints import PREFETCHED, PURE

__all__ = [
    "ERROR_REASONS",
    "FALLBACK_REASONS",
    "FallbackReason",
    "FastExecutionMismatch",
    "FastExecutionObserver",
    "TrivialFieldExecutor",
    "verify_every_execution",
]

log = logging.getLogger(__name__)

# (reads the field's value from its parent, completes that value) or None: not fast
FieldPlan = tuple[Completer, Completer] | None

# Operations whose plans are kept across requests (the parser and validation caches hold 512)
SHARED_PLANS = 512

# Fallbacks that mean the value is wrong, so graphql-core's path must report an error for it;
# the others (not prefetched, not a list or tuple) only mean the fast path cannot tell
ERROR_REASONS: frozenset[FallbackReason] = frozenset(
    {"null_in_non_null", "unserialisable", "resolver_raised", "read_raised"}
)


class FastExecutionObserver(Protocol):
    """What the executor reports, for metrics (gateway/metrics.py's Metrics is one)."""

    def fast_execution_fell_back(self, reason: FallbackReason) -> None:
        """A field or sub-tree went to graphql-core's path; `reason` is one of
        FALLBACK_REASONS."""


class FastExecutionMismatch(Exception):
    """Verifying mode: the fast path and graphql-core's path answered differently."""


# verify_every_execution's report, when it is on
_report_everywhere: Callable[[FastExecutionMismatch], None] | None = None

# Verifying mode's checks in this process: "completed" (sub-trees answered both ways) and
# "fell_back" (fallbacks for an ERROR_REASONS reason whose error graphql-core reported)
VERIFIED: Counter[str] = Counter()


def verify_every_execution(
    report: Callable[[FastExecutionMismatch], None] | None,
) -> Callable[[FastExecutionMismatch], None] | None:
    """Verifying mode for every TrivialFieldExecutor of this process from now on, whatever
    its schema was built with, each mismatch (any executor's) also handed to `report`; None
    turns it off again. For test suites (tests/conftest.py). Returns the previous report."""
    global _report_everywhere
    previous, _report_everywhere = _report_everywhere, report
    return previous


class _Plans:
    """The plans of one operation, keyed on the identity of its field nodes."""

    __slots__ = ("arguments", "fields", "keep", "values")

    def __init__(self, keep: tuple[object, ...]) -> None:
        # the schema and the document's nodes whose ids are in the keys: kept alive, so
        # that no other object can take one of those ids while the plans are in use
        self.keep = keep
        self.fields: dict[tuple[Any, ...], FieldPlan] = {}
        self.values: dict[tuple[Any, ...], Completer | None] = {}
        # (field definition, field node) -> a pure resolver's converted literal arguments,
        # or None: they did not convert (counted once, however many plans include it)
        self.arguments: dict[tuple[int, int], dict[str, Any] | None] = {}


# (id(schema), id(operation)) -> the operation's shared plans, or None when its field
# collection depends on variables
_shared: OrderedDict[tuple[int, int], tuple[_Plans | None, tuple[object, ...]]] = OrderedDict()


def _plans_for(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Collection[FragmentDefinitionNode],
) -> _Plans:
    key = (id(schema), id(operation))
    entry = _shared.get(key)
    if entry is None:
        keep = (schema, operation, *fragments)
        entry = (_Plans(keep) if _collection_is_static(operation, fragments) else None, keep)
        _shared[key] = entry
        if len(_shared) > SHARED_PLANS:
            _shared.popitem(last=False)
    else:
        _shared.move_to_end(key)
    plans, keep = entry
    return plans if plans is not None else _Plans(keep)


class TrivialFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (graphql-core's incremental one), with the fast-field path."""

    # set per schema by `configured` (build_schema): read only when a field falls back or
    # once per execution, never on the fast path
    observer: ClassVar[FastExecutionObserver | None] = None
    verify: ClassVar[bool] = False

    @classmethod
    def configured(
        cls, *, observer: FastExecutionObserver | None = None, verify: bool = False
    ) -> type[TrivialFieldExecutor]:
        """This executor reporting fallbacks to `observer`, in verifying mode if `verify`."""
        return type(cls.__name__, (cls,), {"observer": observer, "verify": verify})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans = _plans_for(
            self.schema, self.operation, tuple(self.fragment_definitions.values())
        )
        # field middleware (a Strawberry extension with a `resolve` hook) must see every field
        manager = self.middleware_manager
        self._fast = manager is None or not manager.middlewares
        self._verify = self._fast and (self.verify or _report_everywhere is not None)
        # verifying mode: graphql-core's path is answering what the fast path answered
        self._reference = False

    def build_response(
        self, data: dict[str, Any] | None
    ) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):
            # graphql-core's resolver helpers hold bound methods of the executor: a
            # reference cycle that would keep the request's context, loaders and every
            # value they fetched alive until the next garbage collection, and make that
            # collection walk them. Nothing runs for this execution any more; infos built
            # before keep the helpers they were given.
            self.async_helpers = _weak_helpers(self)
        return response

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._fast:
            plan = self._field_plan(parent_type, field_details_list)
            if plan is not None:
                read, complete = plan
                try:
                    completed = complete(read(source))
                except Exception as error:
                    reason = self._fell_back(error, path)
                    if self._verify and reason in ERROR_REASONS:
                        return self._field_after_fallback(
                            reason, parent_type, source, field_details_list, path, position_context
                        )
                else:
                    if self._verify:
                        return self._verified_field(
                            completed,
                            parent_type,
                            source,
                            field_details_list,
                            path,
                            position_context,
                        )
                    return completed
        elif self._reference:
            return self._reference_field(
                parent_type, source, field_details_list, path, position_context
            )
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
        fast below it is completed in one pass too."""
        if self._fast and not self.is_awaitable(result):
            key = (id(return_type), *_node_ids(field_details_list))
            values = self._plans.values
            if key in values:
                complete = values[key]
            else:
                complete = values[key] = self._completer(return_type, field_details_list)
            if complete is not None:
                # verifying mode: graphql-core's completion of the same value, to compare
                normal = (
                    partial(
                        super().complete_value,
                        return_type,
                        field_details_list,
                        info,
                        path,
                        result,
                        position_context,
                    )
                    if self._verify
                    else None
                )
                try:
                    completed = complete(result)
                except Exception as error:
                    reason = self._fell_back(error, path)
                    if normal is not None and reason in ERROR_REASONS:
                        return self._after_fallback(reason, path, normal)
                else:
                    if normal is not None:
                        self._check(completed, normal, path)
                    return completed
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # Fallbacks

    def _fell_back(self, error: Exception, path: Path) -> FallbackReason:
        reason: FallbackReason
        if isinstance(error, Fallback):
            reason = error.reason
        elif _raised_through(error, _PURE_READ_CODE):
            reason = "resolver_raised"
        else:
            reason = "read_raised"
        observer = self.observer
        if observer is not None:
            observer.fast_execution_fell_back(reason)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("fast execution fell back at %s: %s", path.as_list(), reason, exc_info=error)
        return reason

    def _planning_fell_back(
        self, error: Exception, parent_type: GraphQLObjectType, field_name: str
    ) -> None:
        observer = self.observer
        if observer is not None:
            observer.fast_execution_fell_back("bad_arguments")
        log.debug(
            "fast execution planned %s.%s for the normal path: bad_arguments",
            parent_type.name,
            field_name,
            exc_info=error,
        )

    # Verifying mode: each check raises FastExecutionMismatch, which execute_field turns
    # into the field's error (complete_value's caller in graphql-core does that itself)

    def _verified_field(
        self,
        completed: Any,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        # with the fast path off, execute_field is graphql-core's (_reference_field)
        reference = partial(
            self.execute_field, parent_type, source, field_details_list, path, position_context
        )
        try:
            self._check(completed, reference, path)
        except FastExecutionMismatch as mismatch:
            return self._field_error(mismatch, parent_type, field_details_list, path)
        return completed

    def _field_after_fallback(
        self,
        reason: FallbackReason,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        normal = partial(
            super().execute_field, parent_type, source, field_details_list, path, position_context
        )
        try:
            return self._after_fallback(reason, path, normal)
        except FastExecutionMismatch as mismatch:
            return self._field_error(mismatch, parent_type, field_details_list, path)

    def _after_fallback(self, reason: FallbackReason, path: Path, normal: Callable[[], Any]) -> Any:
        """The normal path's answer after a fallback for `reason`, which means an error:
        graphql-core must report one (raised, or collected) unless it answers later."""
        errors = self.collected_errors
        before = len(errors.errors)
        result = normal()  # raising: graphql-core reports an error
        if (
            not self.is_awaitable(result)
            and len(errors.errors) == before
            and not errors.has_nulled_position(path)
        ):
            raise self._mismatch(
                path, f"the fast path fell back ({reason}) but graphql-core reported no error"
            )
        VERIFIED["fell_back"] += 1
        return result

    def _check(self, completed: Any, reference: Callable[[], Any], path: Path) -> None:
        """Answers `reference` (graphql-core's path, the fast path off, its errors kept
        apart) and compares it with what the fast path `completed`."""
        errors = self.collected_errors
        self.collected_errors = CollectedErrors()
        self._fast, self._reference = False, True
        answer: Any = None
        raised: list[Exception] = []
        try:
            answer = reference()
        except Exception as error:  # a non-null field's error: graphql-core raises it
            raised.append(error)
        finally:
            reference_errors = [*self.collected_errors.errors, *raised]
            self.collected_errors = errors
            self._fast, self._reference = True, False
        if self.is_awaitable(answer):
            if iscoroutine(answer):
                answer.close()
            raise self._mismatch(path, "graphql-core's path answered asynchronously")
        if reference_errors:
            raise self._mismatch(
                path, f"the fast path answered {completed!r}, graphql-core {reference_errors!r}"
            )
        if not _same(completed, answer):
            raise self._mismatch(
                path, f"the fast path answered {completed!r}, graphql-core {answer!r}"
            )
        VERIFIED["completed"] += 1

    def _reference_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's path for a field the fast path answered, except that a prefetched
        field's value is taken as it is: its resolver may wait on upstreams."""
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        definition = field_def.extensions.get("strawberry-definition") if field_def else None
        attribute = (
            definition.metadata.get(PREFETCHED) if isinstance(definition, StrawberryField) else None
        )
        if field_def is None or not attribute:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        value = getattr(source, attribute, None)
        if value is None:  # reported by _check, with what the fast path answered
            raise FastExecutionMismatch("a prefetched field with no value: its resolver would run")
        nodes = [details.node for details in field_details_list]
        info = self.build_resolve_info(field_def, nodes, parent_type, path)
        try:
            return super().complete_value(
                field_def.type, field_details_list, info, path, value, position_context
            )
        except Exception as error:
            self.handle_field_error(error, field_def.type, field_details_list, path)
            return None

    def _mismatch(self, path: Path, detail: str) -> FastExecutionMismatch:
        mismatch = FastExecutionMismatch(
            f"fast execution differs from graphql-core's at {path.as_list()}: {detail}"
        )
        log.error("%s", mismatch)
        report = _report_everywhere
        if report is not None:
            report(mismatch)
        return mismatch

    def _field_error(
        self,
        error: Exception,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> None:
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        assert field_def is not None  # the fast path answered it
        self.handle_field_error(error, field_def.type, field_details_list, path)
        return None

    # Plans

    def _field_plan(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> FieldPlan:
        key = (parent_type.name, *_node_ids(field_details_list))
        fields = self._plans.fields
        if key in fields:
            return fields[key]
        plan: FieldPlan = None
        field = self._field_read(parent_type, "", field_details_list)
        if field is not None:
            complete = build_completer(field.return_type, field_details_list, self._selected_fields)
            if complete is not None:
                plan = (field.read, complete)
        fields[key] = plan
        return plan

    def _completer(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        return build_completer(return_type, field_details_list, self._selected_fields)

    def _selected_fields(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> list[FieldRead] | None:
        if object_type.is_type_of is not None:
            return None  # the value's type must be checked at run time
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        fields = []
        for response_name, sub_details in grouped_field_set.items():
            field = self._field_read(object_type, response_name, sub_details)
            if field is None:
                return None
            fields.append(field)
        return fields

    def _field_read(
        self,
        parent_type: GraphQLObjectType,
        response_name: str,
        field_details_list: FieldDetailsList,
    ) -> FieldRead | None:
        first = field_details_list[0]
        name = first.node.name.value
        if any(d.defer_usage or d.node.directives for d in field_details_list):
            return None
        if name == "__typename":
            type_name = parent_type.name
            return FieldRead(
                response_name,
                lambda _source: type_name,
                None,
                type_name,
                GraphQLNonNull(GraphQLString),
                field_details_list,
            )
        field_def = self.schema.get_field(parent_type, name)
        if field_def is None:
            return None
        definition = field_def.extensions.get("strawberry-definition")
        if not isinstance(definition, StrawberryField) or definition.extensions:
            return None
        attribute: str | None = None
        read: Completer | None = None
        if definition.base_resolver is None:
            if field_def.args:
                return None
            python_name = definition.python_name
            if definition.default_resolver is getattr:
                read = attrgetter(python_name)
                attribute = python_name if is_attribute_name(python_name) else None
            else:
                default_resolver = definition.default_resolver
                read = lambda source: default_resolver(source, python_name)  # noqa: E731
        elif prefetched_in := definition.metadata.get(PREFETCHED):
            read = None if field_def.args else _prefetched_reader(prefetched_in)
        elif definition.metadata.get(PURE):
            read = self._pure_reader(parent_type, field_def, definition, first)
        if read is None:
            return None
        return FieldRead(response_name, read, attribute, None, field_def.type, field_details_list)

    def _pure_reader(
        self,
        parent_type: GraphQLObjectType,
        field_def: GraphQLField,
        definition: StrawberryField,
        first: FieldDetails,
    ) -> Completer | None:
        resolver = definition.base_resolver
        assert resolver is not None
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        if (
            strawberry_schema is None
            or resolver.is_async
            or resolver.info_parameter is not None
            or strawberry_schema.schema_converter.exception_handlers
            or first.fragment_variable_values is not None
            or any(_has_variable(argument.value) for argument in first.node.arguments or ())
            or not all(_immutable_input(arg.type) for arg in field_def.args.values())
        ):
            return None
        key = (id(field_def), id(first.node))
        arguments = self._plans.arguments
        if key in arguments:
            kwargs = arguments[key]
        else:
            converter = strawberry_schema.schema_converter
            try:
                kwargs = convert_arguments(
                    get_argument_values(field_def, first.node),
                    definition.arguments,
                    scalar_registry=converter.scalar_registry,
                    config=converter.config,
                )
            except Exception as error:  # the normal path reports bad arguments
                self._planning_fell_back(error, parent_type, first.node.name.value)
                kwargs = None
            arguments[key] = kwargs
        if kwargs is None:
            return None
        function = resolver.wrapped_func
        if isinstance(function, staticmethod | classmethod):
            return None
        parent = resolver.root_parameter or resolver.parent_parameter
        return _pure_read(
            function,
            kwargs,
            self_parameter=resolver.self_parameter is not None,
            parent_name=parent.name if parent is not None else None,
        )


def _pure_read(
    function: Callable[..., Any],
    kwargs: dict[str, Any],
    *,
    self_parameter: bool,
    parent_name: str | None,
) -> Completer:
    if self_parameter:
        return lambda source: function(source, **kwargs)
    if parent_name is not None:
        return lambda source: function(**kwargs, **{parent_name: source})
    return lambda _source: function(**kwargs)


# The code of _pure_read's readers: an exception raised through one of them is the
# resolver's. Told apart after the fact, so that reading a pure field costs one call.
_PURE_READ_CODE = frozenset(c for c in _pure_read.__code__.co_consts if isinstance(c, CodeType))


def _raised_through(error: BaseException, code: frozenset[CodeType]) -> bool:
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code in code:
            return True
        frame = frame.tb_next
    return False


def _node_ids(field_details_list: FieldDetailsList) -> list[int]:
    return [id(details.node) for details in field_details_list]


def _prefetched_reader(attribute: str) -> Completer:
    def read(source: Any) -> Any:
        value = getattr(source, attribute, None)
        if value is None:
            raise Fallback("not_prefetched")  # the resolver runs
        return value

    return read


def _same(fast: Any, reference: Any) -> bool:
    """Equal, and of the same types and key order all the way down (1 is not 1.0 nor True)."""
    if type(fast) is not type(reference):
        return False
    if type(fast) is dict:
        return list(fast) == list(reference) and all(
            _same(value, reference[key]) for key, value in fast.items()
        )
    if type(fast) is list:
        return len(fast) == len(reference) and all(map(_same, fast, reference))
    return bool(fast == reference)


def _weak_helpers(executor: TrivialFieldExecutor) -> GraphQLResolveInfoHelpers:
    ref = weakref.ref(executor)

    def live() -> TrivialFieldExecutor:
        alive = ref()
        if alive is None:
            raise RuntimeError("the execution this info belonged to is over")
        return alive

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return live().gather_async_work(values)

    def track(values: Sequence[Any]) -> None:
        live().track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


def _immutable_input(input_type: GraphQLInputType) -> bool:
    """Built-in scalars and enums: a value converted once may be handed to every call."""
    if isinstance(input_type, GraphQLNonNull):
        input_type = input_type.of_type
    return isinstance(input_type, GraphQLEnumType) or any(
        input_type is scalar
        for scalar in (GraphQLInt, GraphQLFloat, GraphQLString, GraphQLBoolean, GraphQLID)
    )


def _collection_is_static(
    operation: OperationDefinitionNode, fragments: Collection[FragmentDefinitionNode]
) -> bool:
    """Whether collecting fields gives the same groups whatever the variables: no
    directive (`@skip`, `@include`, `@defer`...) takes a variable and no fragment spread
    has arguments."""
    return all(_selections_static(node.selection_set) for node in (operation, *fragments))


def _selections_static(selection_set: SelectionSetNode | None) -> bool:
    if selection_set is None:
        return True
    for selection in selection_set.selections:
        for directive in selection.directives or ():
            if any(_has_variable(argument.value) for argument in directive.arguments or ()):
                return False
        if isinstance(selection, FragmentSpreadNode):
            if getattr(selection, "arguments", None):
                return False
        elif not _selections_static(getattr(selection, "selection_set", None)):
            return False  # a field's or an inline fragment's selections
    return True


def _has_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(field.value) for field in value.fields)
    return False
