"""The fast-field executor answers exactly what Strawberry's own executor answers.

Every query here runs twice, through a schema built with `TrivialFieldExecutor` and through
the same schema with Strawberry's executor; data and errors (message and path) must match,
whether the fast path answered or handed over to the normal path. The rest of the suite is
covered by verifying mode (tests/conftest.py): every sub-tree the fast path answers in any
test is answered by graphql-core's path too. Here: that the verifier catches a difference,
that fallbacks are counted by reason, that the setting turns the fast path off, and that
the library internals the executor leans on are still there.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import logging
import re
import weakref
from collections.abc import Iterator
from enum import Enum
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import graphql
import pytest
import strawberry
from graphql import GraphQLList, parse
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.executor import CollectedErrors
from graphql.execution.incremental import IncrementalExecutor
from graphql.execution.values import get_argument_values
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

import engine.execution
from engine.completion import FALLBACK_REASONS, Fallback
from engine.execution import (
    VERIFIED,
    FallbackReason,
    TrivialFieldExecutor,
    verify_every_execution,
)
from engine.field_hints import prefetched, pure
from engine.selections import selects
from gateway.wiring.schema import build_schema


@strawberry.enum
class Color(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Leaf:
    name: str
    size: int | None
    color: Color
    ratio: float


CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@strawberry.type
class Node:
    id: strawberry.ID
    label: str
    leaves: list[Leaf]
    maybe: Leaf | None
    prefetched_detail: strawberry.Private[Leaf | None] = None

    @strawberry.field(metadata=pure())
    def top(self, first: int = 2, color: Color | None = None) -> list[Leaf]:
        _count("top")
        return [leaf for leaf in self.leaves if color is None or leaf.color == color][:first]

    @strawberry.field(metadata=pure())
    def checked(self, first: int) -> list[Leaf]:
        if first > 3:
            raise ValueError("first is at most 3")
        return self.leaves[:first]

    @strawberry.field(metadata=prefetched("prefetched_detail"))
    async def detail(self) -> Leaf | None:
        _count("detail")
        if self.prefetched_detail is not None:  # the same answer either way
            return self.prefetched_detail
        return Leaf(name=f"loaded {self.id}", size=None, color=Color.BLUE, ratio=0.5)

    @strawberry.field
    def leaf_stream(self) -> list[Leaf]:
        return (leaf for leaf in self.leaves)  # type: ignore[return-value]


def _leaf(name: str, size: int | None = 1, color: Color = Color.RED) -> Leaf:
    return Leaf(name=name, size=size, color=color, ratio=1.5)


def _nodes() -> list[Node]:
    return [
        Node(
            id=strawberry.ID("n1"),
            label="one",
            leaves=[_leaf("a"), _leaf("b", None, Color.BLUE), _leaf("c")],
            maybe=None,
            prefetched_detail=_leaf("ready"),
        ),
        Node(
            id=strawberry.ID("n2"),
            label=None,  # type: ignore[arg-type]  # breaks `label: String!`
            leaves=[_leaf("d", 2**40)],  # not an Int
            maybe=_leaf("e"),
        ),
        Node(id=strawberry.ID("n3"), label="three", leaves=[], maybe=_leaf("f", 3)),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def nodes(self) -> list[Node]:
        return _nodes()

    @strawberry.field
    def good_nodes(self) -> list[Node]:
        return [_nodes()[0], _nodes()[2]]

    @strawberry.field
    def strange_leaves(self) -> list[Leaf]:
        # no `ratio`: reading it raises
        return [SimpleNamespace(name="odd", size=1, color=Color.RED)]  # type: ignore[list-item]


class Reasons:
    """A FastExecutionObserver that keeps what it hears."""

    def __init__(self) -> None:
        self.seen: list[FallbackReason] = []

    def fast_execution_fell_back(self, reason: FallbackReason) -> None:
        self.seen.append(reason)


REASONS = Reasons()
FAST = strawberry.Schema(
    query=Query, execution_context_class=TrivialFieldExecutor.configured(observer=REASONS)
)
VERIFYING = strawberry.Schema(
    query=Query, execution_context_class=TrivialFieldExecutor.configured(verify=True)
)
REFERENCE = strawberry.Schema(
    query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
)


@pytest.fixture
def unverified() -> Iterator[None]:
    """Verifying mode off (tests/conftest.py turns it on for every executor): for tests
    that count resolver calls or graphql-core's own field executions."""
    previous = verify_every_execution(None)
    try:
        yield
    finally:
        verify_every_execution(previous)


def _shape(result: Any) -> tuple[Any, list[tuple[str, list[Any] | None]]]:
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


async def _same_answer(query: str, variables: dict[str, Any] | None = None) -> Any:
    fast = await FAST.execute(query, variable_values=variables)
    reference = await REFERENCE.execute(query, variable_values=variables)
    assert _shape(fast) == _shape(reference)
    return fast


@pytest.mark.parametrize(
    "query",
    [
        "{ goodNodes { id label __typename leaves { name size color ratio } maybe { name } } }",
        "{ goodNodes { a: id b: id ...F } } fragment F on Node { leaves { ... on Leaf { name } } }",
        "{ nodes { id label } }",  # a null where the schema says non-null
        "{ nodes { id leaves { size } } }",  # 2**40 is no Int
        "{ nodes { id maybe { name size } } }",
        "{ goodNodes { top { name } red: top(first: 5, color: RED) { name color } } }",
        "{ goodNodes { checked(first: 2) { name } } }",
        "{ goodNodes { id checked(first: 9) { name } } }",  # the resolver raises
        "{ goodNodes { id detail { name size } } }",
        "{ goodNodes { leafStream { name } } }",  # a generator, not a list
        "{ goodNodes { id maybe @include(if: false) { name } leaves @skip(if: false) { name } } }",
        "{ strangeLeaves { name ratio } }",  # an attribute read raises
    ],
)
async def test_the_fast_executor_answers_as_strawberry_does(query: str):
    await _same_answer(query)


async def test_arguments_from_variables_and_directives_on_variables_follow_each_request():
    query = """query ($n: Int!, $with: Boolean!) {
      goodNodes { top(first: $n) { name } leaves @include(if: $with) { name } }
    }"""
    # the same parsed document each time: plans kept for it must not keep one request's
    # variables for the next
    one = await _same_answer(query, {"n": 1, "with": True})
    two = await _same_answer(query, {"n": 3, "with": False})
    assert [len(n["top"]) for n in one.data["goodNodes"]] == [1, 0]
    assert "leaves" in one.data["goodNodes"][0]
    assert "leaves" not in two.data["goodNodes"][0]
    assert [len(n["top"]) for n in two.data["goodNodes"]] == [3, 0]


async def test_a_prefetched_value_is_the_answer_and_the_resolver_runs_without_one():
    CALLS.clear()
    # verifying: graphql-core's path takes the prefetched value as it is too, so no
    # asynchronous resolver (upstream calls, a mutation) ever runs twice
    verified = VERIFIED["completed"]
    result = await VERIFYING.execute("{ goodNodes { detail { name } } }")
    assert result.data == {
        "goodNodes": [{"detail": {"name": "ready"}}, {"detail": {"name": "loaded n3"}}]
    }
    assert CALLS == {"detail": 1}  # only n3 had none
    assert VERIFIED["completed"] > verified


@pytest.mark.usefixtures("unverified")
async def test_a_pure_resolver_with_literal_arguments_is_called_once_per_parent():
    CALLS.clear()
    result = await FAST.execute("{ goodNodes { top(first: 1) { name } } }")
    assert result.data == {"goodNodes": [{"top": [{"name": "a"}]}, {"top": []}]}
    assert CALLS == {"top": 2}


@pytest.mark.usefixtures("unverified")
async def test_below_a_resolver_plain_fields_never_reach_graphql_core(monkeypatch):
    executed: list[str] = []
    execute_field = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self, parent_type, source, field_details_list, path, position_context):
        executed.append(field_details_list[0].node.name.value)
        return execute_field(self, parent_type, source, field_details_list, path, position_context)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    query = "{ goodNodes { id label leaves { name color } top(first: 1) { name } } }"
    assert not (await FAST.execute(query)).errors
    assert executed == ["goodNodes"]  # the rest in one pass from the root field's answer
    executed.clear()
    await REFERENCE.execute(query)
    assert len(executed) > 10  # every field of every node, leaf and top
    executed.clear()
    # n3's detail is not prefetched: its nodes take the normal path, where every field but
    # that one is still read directly
    assert not (await FAST.execute("{ goodNodes { id detail { name } } }")).errors
    assert executed == ["goodNodes", "detail"]


@pytest.fixture
def no_garbage_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Context:
    pass


@pytest.mark.usefixtures("no_garbage_collection")
async def test_an_execution_leaves_no_reference_cycle_holding_its_context():
    context = _Context()
    gone = weakref.ref(context)
    result = await FAST.execute("{ goodNodes { id } }", context_value=context)
    assert result.data is not None
    del context, result
    assert gone() is None  # freed by reference counting, not left for the collector


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("{ goodNodes { id label leaves { name size color ratio } top { name } } }", None),
        ("{ goodNodes { id detail { name size } } }", "not_prefetched"),
        ("{ nodes { id label } }", "null_in_non_null"),
        ("{ goodNodes { leafStream { name } } }", "not_a_list"),
        ("{ nodes { id leaves { size } } }", "unserialisable"),
        ("{ goodNodes { id checked(first: 9) { name } } }", "resolver_raised"),
        ("{ strangeLeaves { name ratio } }", "read_raised"),
    ],
)
async def test_each_fallback_is_counted_by_its_reason_and_logged(query, reason, caplog):
    REASONS.seen.clear()
    with caplog.at_level(logging.DEBUG, logger="engine.execution"):
        await _same_answer(query)
    assert set(REASONS.seen) == ({reason} if reason else set())
    assert reason is None or reason in FALLBACK_REASONS
    logged = [r for r in caplog.records if r.getMessage().startswith("fast execution fell back")]
    assert len(logged) == len(REASONS.seen)
    if reason:  # the field's path, the reason and the exception
        assert re.fullmatch(r"fast execution fell back at \[.+\]: " + reason, logged[0].message)
        assert logged[0].exc_info is not None


async def test_arguments_that_do_not_convert_are_counted_when_the_field_is_planned(monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("not convertible")

    monkeypatch.setattr(engine.execution, "convert_arguments", refuse)
    REASONS.seen.clear()
    result = await _same_answer("{ goodNodes { bad: top(first: 1) { name } } }")
    assert result.data == {"goodNodes": [{"bad": [{"name": "a"}]}, {"bad": []}]}
    assert REASONS.seen == ["bad_arguments"]  # once, when planned: then the normal path


def _tampering(monkeypatch: pytest.MonkeyPatch, tamper: Any) -> None:
    """Completers of non-null list types answer `tamper(completer, value)` instead."""
    build_completer = engine.execution.build_completer

    def tampered_completer(return_type, field_details_list, selected_fields):
        complete = build_completer(return_type, field_details_list, selected_fields)
        if complete is None or not isinstance(getattr(return_type, "of_type", None), GraphQLList):
            return complete
        return lambda value: tamper(complete, value)

    monkeypatch.setattr(engine.execution, "build_completer", tampered_completer)


async def test_verifying_mode_fails_a_field_the_fast_path_answers_differently(
    monkeypatch, fast_execution_mismatches
):
    def rename(complete, value):
        return [{**node, "label": "tampered"} for node in complete(value)]

    _tampering(monkeypatch, rename)
    result = await VERIFYING.execute("{ goodNodes { id label } }")
    assert result.data is None  # goodNodes is non-null: the error takes the whole answer
    (error,) = result.errors
    assert error.path == ["goodNodes"]
    assert "fast execution differs from graphql-core's at ['goodNodes']" in error.message
    assert "'tampered'" in error.message
    (reported,) = fast_execution_mismatches  # what fails any other test
    assert str(reported) == error.message
    fast_execution_mismatches.clear()


async def test_verifying_mode_fails_a_fallback_for_an_error_graphql_core_does_not_find(
    monkeypatch, fast_execution_mismatches
):
    def claim_a_null(complete, value):
        raise Fallback("null_in_non_null")

    _tampering(monkeypatch, claim_a_null)
    result = await VERIFYING.execute("{ goodNodes { id } }")
    (error,) = result.errors
    assert error.path == ["goodNodes"]
    assert "fell back (null_in_non_null) but graphql-core reported no error" in error.message
    assert len(fast_execution_mismatches) == 1
    fast_execution_mismatches.clear()
    # an honest fallback passes: the error graphql-core reports is its own
    assert (await VERIFYING.execute("{ nodes { id label } }")).errors[0].path == [
        "nodes",
        1,
        "label",
    ]
    assert not fast_execution_mismatches


async def test_verifying_mode_reaches_schemas_however_they_are_built(gateway):
    before = VERIFIED["completed"]
    body = await gateway.query("{ products(first: 2) { edges { node { sku name } } } }")
    assert "errors" not in body
    after_app = VERIFIED["completed"]
    assert after_app > before  # create_app
    result = await build_schema().execute("{ _service { sdl } }")
    assert result.errors is None
    assert VERIFIED["completed"] > after_app  # build_schema called directly


PRODUCT_PAGE = """
query ($sku: ID!) {
  products(first: 5) {
    edges { node {
      sku name price { amount currency } images { url }
      availability { online { quantity inStock } stores(first: 3) { store { id name } quantity } }
    } }
    pageInfo { hasNextPage endCursor }
  }
  product(sku: $sku) { sku availability { online { quantity } stores { quantity } } }
}
"""


async def test_with_fast_execution_off_the_same_answers_come_without_the_fast_executor(
    settings, make_gateway, dataset, monkeypatch
):
    executors: list[TrivialFieldExecutor] = []
    init = TrivialFieldExecutor.__init__

    def counting(self: TrivialFieldExecutor, *args: Any, **kwargs: Any) -> None:
        executors.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(TrivialFieldExecutor, "__init__", counting)
    variables = {"sku": dataset.products[3].sku}
    answers = {}
    for fast in (True, False):
        executors.clear()
        changed = settings.with_changes(graphql={"fast_execution": fast})
        async with make_gateway(changed) as gateway:
            answers[fast] = await gateway.query(PRODUCT_PAGE, variables)
        assert "errors" not in answers[fast]
        assert len(executors) == (1 if fast else 0)
    assert answers[True] == answers[False]


def _fallbacks(exposition: str) -> dict[str, float]:
    found = re.findall(
        r'omnigate_fast_execution_fallbacks_total\{reason="(\w+)"\} (\S+)', exposition
    )
    return {reason: float(count) for reason, count in found}


async def test_fallbacks_show_in_the_metrics_by_reason(gateway, dataset):
    before = _fallbacks((await gateway.http.get("/metrics")).text)
    assert before == dict.fromkeys(FALLBACK_REASONS, 0.0)  # every reason, from the start
    body = await gateway.query(PRODUCT_PAGE, {"sku": dataset.products[3].sku})
    assert "errors" not in body
    after = _fallbacks((await gateway.http.get("/metrics")).text)
    # `product` prefetches nothing: its availability is resolved (counted at the product
    # and at the field); the page's availability is prefetched
    assert after == {**before, "not_prefetched": 2.0}


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_library_internals_the_executor_leans_on_are_still_there():
    """engine/execution.py and engine/completion.py subclass and call graphql-core's and
    Strawberry's internals: a new minor of either fails here first (pyproject.toml pins
    both to the minor these names were read from)."""
    assert graphql.version_info[:2] == (3, 3)
    assert version("graphql-core").startswith("3.3.")
    assert version("strawberry-graphql").startswith("0.341.")

    # graphql-core: what TrivialFieldExecutor overrides, calls and reads
    assert issubclass(StrawberryGraphQLCoreExecutionContext, IncrementalExecutor)
    assert issubclass(IncrementalExecutor, Executor)
    assert _parameters(Executor.execute_field) == [
        "self", "parent_type", "source", "field_details_list", "path", "position_context"
    ]  # fmt: skip
    assert _parameters(Executor.complete_value) == [
        "self", "return_type", "field_details_list", "info", "path", "result", "position_context"
    ]  # fmt: skip
    assert _parameters(Executor.collect_subfields) == ["self", "return_type", "field_details_list"]
    assert _parameters(Executor.build_response) == ["self", "data"]
    assert _parameters(Executor.handle_field_error) == [
        "self", "raw_error", "return_type", "field_details_list", "path"
    ]  # fmt: skip
    assert _parameters(StrawberryGraphQLCoreExecutionContext.build_resolve_info) == [
        "self", "field_def", "field_nodes", "parent_type", "path"
    ]  # fmt: skip
    assert _parameters(Executor.gather_async_work) == ["self", "values"]
    assert _parameters(Executor.track_async_work) == ["self", "values"]
    assert _parameters(CollectedErrors.add) == ["self", "error", "path"]
    assert _parameters(CollectedErrors.has_nulled_position) == ["self", "start_path"]
    assert isinstance(CollectedErrors.errors, property)
    assert FieldDetails._fields == ("node", "defer_usage", "fragment_variable_values")
    assert _parameters(get_argument_values)[:2] == ["type_def", "node"]
    assert GraphQLResolveInfoHelpers._fields == ("gather", "track")
    assert callable(graphql.GraphQLString.coerce_output_value)
    assert callable(graphql.GraphQLEnumType("E", {"A": 1}).coerce_output_value)

    # Strawberry: the field definitions, resolvers, argument conversion and schema links
    assert GraphQLCoreConverter.DEFINITION_BACKREF == "strawberry-definition"
    assert _parameters(convert_arguments) == [
        "value", "arguments", "scalar_registry", "config", "info"
    ]  # fmt: skip
    top = FAST._schema.get_type("Node").fields["top"].extensions["strawberry-definition"]
    assert isinstance(top, StrawberryField)
    assert {"python_name", "default_resolver", "extensions", "metadata", "arguments"} <= set(
        dir(top)
    )
    assert isinstance(top.base_resolver, StrawberryResolver)
    for attribute in ("is_async", "info_parameter", "self_parameter", "root_parameter"):
        getattr(top.base_resolver, attribute)
    assert top.base_resolver.parent_parameter is None
    assert callable(top.base_resolver.wrapped_func)
    assert FAST._schema._strawberry_schema is FAST
    converter = FAST.schema_converter
    assert {"scalar_registry", "config", "exception_handlers"} <= set(vars(converter))
    assert "_raw_info" in {field.name for field in dataclasses.fields(Info)}  # selections.py

    # and the executor's own view of an execution: the attributes it reads on itself
    seen: list[TrivialFieldExecutor] = []

    class Spying(TrivialFieldExecutor):
        def build_response(self, data: dict[str, Any] | None) -> Any:
            seen.append(self)
            return super().build_response(data)

    spied = strawberry.Schema(query=Query, execution_context_class=Spying)
    assert spied.execute_sync("{ goodNodes { id } }").errors is None
    (executor,) = seen
    assert isinstance(executor.collected_errors, CollectedErrors)
    assert isinstance(executor.async_helpers, GraphQLResolveInfoHelpers)
    for attribute in ("middleware_manager", "fragment_definitions", "operation", "schema"):
        getattr(executor, attribute)


@pytest.mark.parametrize(
    ("selection", "selected"),
    [
        ("probe", []),
        ("probe { edges { node { availability } } }", ["edges/node/availability", "edges"]),
        ("probe { ... on X { nodes { a: availability } } }", ["nodes/availability"]),
        (
            "probe { ...F } } fragment F on X { edges { node { availability } } ",
            ["edges/node/availability", "edges"],
        ),
        ("probe { edges @include(if: true) { node { availability } } }", []),
        ("probe { edges { node { availability @skip(if: false) } } }", ["edges"]),
    ],
)
def test_selects_sees_through_aliases_and_fragments_but_not_directives(selection, selected):
    document = parse("{ " + selection + " }")
    operation, *fragments = document.definitions
    raw = SimpleNamespace(
        field_nodes=[operation.selection_set.selections[0]],
        fragments={fragment.name.value: fragment for fragment in fragments},
    )
    info = SimpleNamespace(_raw_info=raw)
    paths = [("edges", "node", "availability"), ("nodes", "availability"), ("edges",)]
    assert ["/".join(path) for path in paths if selects(info, *path)] == selected


def test_every_prefetched_field_names_an_attribute_its_type_declares() -> None:
    """`prefetched(attribute)` is an agreement between the resolver that fills the
    attribute (for a whole page) and the executor that reads it: a renamed or missing
    attribute would silently send every such field to its resolver."""
    from engine.field_hints import PREFETCHED
    from gateway.wiring.schema import build_schema

    schema = build_schema()
    checked = []
    for graphql_type in schema._schema.type_map.values():
        definition = (getattr(graphql_type, "extensions", None) or {}).get("strawberry-definition")
        if definition is None or not hasattr(definition, "fields"):
            continue
        declared = {field.name for field in dataclasses.fields(definition.origin)}
        for field in definition.fields:
            attribute = (field.metadata or {}).get(PREFETCHED)
            if attribute is not None:
                assert attribute in declared, (definition.name, field.name, attribute)
                checked.append((definition.name, field.name))
    assert ("Product", "availability") in checked
