"""Schema discovery in production: introspection, the federation SDL and "Did you mean"
suggestions are all refused, so guessing names from a wordlist recovers nothing but the
guesses that were already right."""

from __future__ import annotations

import re

import pytest
from graphql import GraphQLObjectType, GraphQLSchema

from gateway.limits import OperationLimits
from gateway.settings import Environment, LimitsSettings
from gateway.wiring.schema import build_schema

ROOTS = ("Query", "Mutation", "Subscription")
QUOTED = re.compile(r"'([^']+)'")


@pytest.fixture(scope="module")
def production():
    return build_schema(OperationLimits.from_settings(LimitsSettings(), Environment.PRODUCTION))


@pytest.fixture(scope="module")
def development():
    return build_schema(OperationLimits.from_settings(LimitsSettings(), Environment.DEVELOPMENT))


def near_misses(schema: GraphQLSchema) -> list[str]:
    """One document per guess, each one letter off a real name, so graphql-core would
    suggest the real one: every root field, every argument of a root field, every object
    type (as a fragment's type condition)."""
    documents = []
    for root in ROOTS:
        type_ = schema.get_type(root)
        assert isinstance(type_, GraphQLObjectType)
        keyword = root.lower() if root != "Query" else "query"
        for name, field in type_.fields.items():
            documents.append(f"{keyword} {{ {name[:-1]} }}")
            for argument in field.args:
                documents.append(f"{keyword} {{ {name}({argument[:-1]}: 1) {{ __typename }} }}")
    for name, type_ in schema.type_map.items():
        if isinstance(type_, GraphQLObjectType) and not name.startswith("__"):
            documents.append(f"{{ __typename ... on {name[:-1]} {{ __typename }} }}")
    return documents


def leaked(document: str, messages: list[str]) -> set[str]:
    """Names an error message gives that the document did not say (root types aside)."""
    said = set(re.findall(r"\w+", document)) | set(ROOTS)
    return {
        part
        for message in messages
        for quoted in QUOTED.findall(message)
        for part in re.findall(r"\w+", quoted)
        if part not in said
    }


async def guess(schema, document: str) -> set[str]:
    result = await schema.execute(document)
    assert result.errors, document
    assert result.data is None
    return leaked(document, [error.message for error in result.errors])


async def test_a_wordlist_guess_recovers_nothing_in_production(production):
    documents = near_misses(production._schema)
    assert len(documents) > 50
    for document in documents:
        assert await guess(production, document) == set(), document


async def test_the_same_guesses_do_recover_names_in_development(development):
    """The check above can fail: with suggestions on, the guesses give real names away."""
    found = set()
    for document in near_misses(development._schema):
        found |= await guess(development, document)
    assert {"customer", "cartLinesAdd", "cartUpdated", "referralCode", "Customer"} <= found


@pytest.mark.parametrize(
    "document",
    [
        "{ _service { sdl } }",
        "query Compose { service: _service { sdl } }",
        "{ ... on Query { _service { sdl } } }",
    ],
)
async def test_production_refuses_the_federation_sdl(production, document):
    """`_service { sdl }` prints the whole schema: with introspection off it is refused."""
    result = await production.execute(document)
    assert result.data is None
    assert {e.extensions["code"] for e in result.errors or []} == {"INTROSPECTION_DISABLED"}


async def test_development_answers_the_federation_sdl(development):
    result = await development.execute("{ _service { sdl } }")
    assert result.errors is None
    assert "type Query" in result.data["_service"]["sdl"]
