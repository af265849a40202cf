"""Shopify's official Admin GraphQL schema for the pinned API version, as a judge.

`make install` fetches it (tools/shopify_admin_schema.py) from the npm package
`@shopify/dev-mcp`; it is never committed. `request_problems(schema, body)` says what the
schema refuses in one request the adapter sent: its document, or its variables.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, build_client_schema, parse, validate
from graphql.execution.values import get_variable_values

from connectors.shopify import ShopifySettings

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSION = ShopifySettings().api_version
SCHEMA_FILE = REPO_ROOT / ".data" / "shopify" / f"admin_{VERSION}.json.gz"


@cache
def official_admin_schema() -> GraphQLSchema:
    if not SCHEMA_FILE.exists():
        pytest.fail(f"{SCHEMA_FILE} is missing: `make install` fetches it")
    with gzip.open(SCHEMA_FILE) as file:
        introspection = json.load(file)
    return build_client_schema(undeprecate_implementations(introspection["data"]))


def undeprecate_implementations(introspection: dict[str, Any]) -> dict[str, Any]:
    """Shopify deprecates some fields of a type that the interface it implements does not
    (`DiscountAutomaticBxgy.id` against `Node.id`), which the GraphQL spec forbids and
    graphql-core refuses when it validates the schema before any document. Deprecation
    plays no part in validating a document or an answer, so such fields are taken as not
    deprecated here."""
    types = {t["name"]: t for t in introspection["__schema"]["types"]}
    for type_ in types.values():
        for interface in type_.get("interfaces") or ():
            live = {f["name"] for f in types[interface["name"]]["fields"] if not f["isDeprecated"]}
            for field in type_["fields"]:
                if field["isDeprecated"] and field["name"] in live:
                    field["isDeprecated"], field["deprecationReason"] = False, None
    return introspection


def request_problems(schema: GraphQLSchema, body: dict[str, Any]) -> list[str]:
    """What the schema refuses in a request body (`query`, `variables`); [] when nothing."""
    document = parse(body["query"])
    problems = [f"document: {error.message}" for error in validate(schema, document)]
    if problems:
        return problems
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), body.get("variables") or {}
    )
    return [f"variables: {error.message}" for error in coerced] if isinstance(coerced, list) else []
