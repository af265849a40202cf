"""Operation limits: every refusal is QUERY_TOO_COMPLEX, names its limit, and fetches nothing."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest
from conftest import REPO_ROOT
from graphql import get_introspection_query, parse
from strawberry.extensions import SchemaExtension

from engine.operation import OperationExtension
from gateway.limits import LimitedDocument, OperationLimits, operation_cost
from gateway.limits.cost import _plans
from gateway.limits.document_key import DocumentKey
from gateway.settings import LimitsSettings
from gateway.wiring.schema import build_schema


def _bench_query() -> str:
    """bench/products_load.py's QUERY, read without importing the bench package."""
    tree = ast.parse((REPO_ROOT / "bench" / "products_load.py").read_text())
    [value] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "QUERY"
    ]
    return ast.literal_eval(value)


BENCH_QUERY = _bench_query()

UPSTREAMS = ("square", "shopify", "salesforce")
LIMITS = LimitsSettings()


def _cost(document: str, variables: dict | None = None) -> int:
    schema = build_schema()._schema
    return operation_cost(schema, parse(document), None, variables, LIMITS.default_list_size)


def _fields(n: int, alias: str = "a") -> str:
    return " ".join(f"{alias}{i}: __typename" for i in range(n))


async def _refused(gateway, sandbox, document: str, variables: dict | None = None) -> str:
    body = await gateway.query(document, variables)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert body.get("data") is None
    assert [sandbox.total_calls(vendor) for vendor in UPSTREAMS] == [0, 0, 0]
    return error["message"]


async def test_the_benchmark_query_is_admitted_with_room_to_spare(gateway, sandbox):
    cost = _cost(BENCH_QUERY)
    assert cost == 602
    assert cost * 5 < LIMITS.max_cost
    body = await gateway.query(BENCH_QUERY)
    assert "errors" not in body
    assert len(body["data"]["products"]["edges"]) == 20


async def test_a_hundred_products_with_a_hundred_stores_each_is_refused(gateway, sandbox):
    document = (
        "{ products(first: 100) { edges { node { sku"
        " availability { stores(first: 100) { store { id name } quantity } } } } } }"
    )
    message = await _refused(gateway, sandbox, document)
    assert "max_cost" in message
    assert str(LIMITS.max_cost) in message


@pytest.mark.parametrize(
    ("variables", "admitted"),
    [({"n": 20, "s": 5}, True), ({"n": 100, "s": 100}, False), ({}, True)],
)
async def test_cost_reads_list_sizes_from_variables(gateway, sandbox, variables, admitted):
    """The plan is cached per document; the sizes come from each request's variables."""
    document = (
        "query ($n: Int! = 20, $s: Int! = 5) { products(first: $n) { edges { node { sku"
        " availability { stores(first: $s) { store { id } quantity } } } } } }"
    )
    if admitted:
        body = await gateway.query(document, variables)
        assert "errors" not in body
    else:
        assert "max_cost" in await _refused(gateway, sandbox, document, variables)


def test_cost_weights_as_documented():
    # a field 1; a connection's `first` sizes edges; list defaults apply when omitted
    assert _cost("{ products(first: 3) { edges { cursor } } }") == 1 + (1 + 3 * 1)
    assert _cost("{ products { edges { cursor } } }") == 1 + (1 + 20 * 1)  # schema default
    assert _cost("{ stores { id name } }") == 1 + LIMITS.default_list_size * 2
    assert _cost("{ __typename stores { __typename } }") == 1
    fragment = "fragment F on ProductConnection { nodes { sku } }"
    assert _cost("{ products(first: 4) { ...F } } " + fragment) == 1 + (1 + 4 * 1)
    entities = "query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    assert _cost(entities, {"r": [{}] * 7}) == 1
    entities_sku = (
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { sku } } }"
    )
    assert _cost(entities_sku, {"r": [{}] * 7}) == 1 + 7


def test_introspection_costs_nothing_and_fits_every_limit():
    """GraphiQL's schema query must keep working in development."""
    assert _cost(get_introspection_query(descriptions=True)) == 0


async def test_graphiql_introspection_is_answered_in_development(gateway):
    body = await gateway.query(get_introspection_query(descriptions=True))
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# products(1) edges(2) node(3) availability(4) stores(5) store(6): leaves add no depth
DEPTH_6 = (
    "{ products(first: 1) { edges { node {"
    " availability { stores(first: 1) { store { id } } } } } } }"
)
DEPTH_7 = DEPTH_6.replace("store { id }", "store { address { city } }")


async def test_depth_six_is_admitted_and_seven_refused(gateway, sandbox):
    assert "errors" not in await gateway.query(DEPTH_6)
    sandbox.reset_calls()
    message = await _refused(gateway, sandbox, DEPTH_7)
    assert message == "Operation refused: depth 7 exceeds the limit of 6 (max_depth)."


async def test_depth_is_counted_through_fragments(settings, sandbox, make_gateway):
    shallow = settings.with_changes(limits={"max_depth": 3})
    document = (
        "{ products(first: 1) { ...C } } fragment C on ProductConnection"
        " { edges { node { ... on Product { availability { online { quantity } } } } } }"
    )
    async with make_gateway(shallow) as gateway:
        sandbox.reset_calls()
        message = await _refused(gateway, sandbox, document)
    assert message == "Operation refused: depth 5 exceeds the limit of 3 (max_depth)."


async def test_aliases_multiplied_through_fragment_spreads_are_counted(gateway, sandbox):
    fragment = f"fragment F on Query {{ {_fields(8)} }}"
    assert "errors" not in await gateway.query("{ ...F } " + fragment)
    message = await _refused(gateway, sandbox, "{ ...F ... { ...F } } " + fragment)
    assert message == "Operation refused: aliases 16 exceeds the limit of 15 (max_aliases)."


async def test_exponential_fragment_fan_out_is_refused_quickly(gateway, sandbox):
    """Each fragment spreads the next twice: 2**40 aliases, measured in linear time."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    document = "{ ...F0 } " + fragments + " fragment F40 on Query { a: __typename }"
    message = await _refused(gateway, sandbox, document)
    assert f"aliases {2**40}" in message


async def test_too_many_directives_are_refused(gateway, sandbox):
    def spreads(n: int) -> str:
        return (
            "{ " + " ".join(["...F @skip(if: false)"] * n) + " } fragment F on Query { __typename }"
        )

    assert "errors" not in await gateway.query(spreads(50))
    message = await _refused(gateway, sandbox, spreads(51))
    assert message == "Operation refused: directives 51 exceeds the limit of 50 (max_directives)."


async def test_too_many_tokens_are_refused_before_parsing_finishes(gateway, sandbox):
    document = "{ " + " ".join(["__typename"] * 1000) + " }"
    message = await _refused(gateway, sandbox, document)
    assert message == "Operation refused: the document has more than 1000 tokens (max_tokens)."
    comments = "{ __typename }" + "\n#".join([""] * 1002)
    assert "max_tokens" in await _refused(gateway, sandbox, comments)


async def test_limits_are_configurable(settings, sandbox, make_gateway):
    tight = settings.with_changes(limits={"max_cost": 100, "max_aliases": 0})
    async with make_gateway(tight) as gateway:
        sandbox.reset_calls()
        assert "max_cost" in await _refused(gateway, sandbox, BENCH_QUERY)
        assert "max_aliases" in await _refused(gateway, sandbox, "{ a: __typename }")


def test_limit_settings_come_from_the_environment(monkeypatch):
    from gateway.settings import Settings

    monkeypatch.setenv("OMNIGATE_LIMITS__MAX_DEPTH", "9")
    monkeypatch.setenv("OMNIGATE_LIMITS__MAX_BODY_BYTES", "1024")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.limits.max_depth == 9
    assert settings.limits.max_body_bytes == 1024
    assert OperationLimits.from_settings(settings.limits).max_depth == 9


def test_defaults_are_graphql_armors():
    assert (LIMITS.max_depth, LIMITS.max_aliases, LIMITS.max_directives, LIMITS.max_tokens) == (
        6,
        15,
        50,
        1000,
    )


def test_a_document_is_cached_by_its_text_not_by_walking_its_tree():
    """The validation and cost caches key a document by its source text (its hash is kept),
    so the same text parsed twice hits, and another text, however alike, misses."""
    text = "{ products(first: 3) { edges { node { sku } } } }"
    once, twice = DocumentKey(parse(text)), DocumentKey(parse(text))
    other = DocumentKey(parse(text.replace("3", "4")))
    assert once.document is not twice.document
    assert (once == twice, hash(once) == hash(twice)) == (True, True)
    assert once != other
    built = parse(text, no_location=True)  # no source text: the document is its own key
    assert DocumentKey(built) == DocumentKey(built)
    assert DocumentKey(built) != once


def test_the_cost_of_a_document_is_planned_once_per_text():
    schema = build_schema()._schema
    text = "{ products(first: 3) { edges { node { sku } } } }"
    before = _plans.cache_info().misses
    costs = {operation_cost(schema, parse(text), None, {}, 10) for _ in range(3)}
    assert len(costs) == 1
    assert _plans.cache_info().misses == before + 1


def test_the_limits_and_the_engine_s_hooks_run_from_one_extension_per_request():
    # One extension object per request rather than two (bench/README.md, "the fixed cost
    # of a request"): the limits' parse and validation hooks and the engine's operation
    # and execution hooks are all on the schema's one extension class.
    schema = build_schema()
    (extension,) = schema.extensions
    assert isinstance(extension, type)
    assert issubclass(extension, LimitedDocument)
    assert issubclass(extension, OperationExtension)
    made = extension()
    assert made.on_parse.__func__ is LimitedDocument.on_parse
    assert made.on_validate.__func__ is LimitedDocument.on_validate
    assert made.on_operation.__func__ is OperationExtension.on_operation
    assert made.on_execute.__func__ is OperationExtension.on_execute


def test_joining_two_extensions_with_the_same_hook_is_refused():
    class AnotherValidation(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            yield

    limited = LimitedDocument.for_limits(OperationLimits.defaults())
    with pytest.raises(TypeError, match="on_validate"):
        OperationExtension.joined(limited, AnotherValidation)
