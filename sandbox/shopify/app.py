"""The Shopify Admin GraphQL API simulator: `POST /admin/api/{version}/graphql.json`.

A request goes through what Shopify does, in Shopify's order: the access token, the body,
parse and validation, the 250-item input cap, the single-query cost cap, the token's
leaky bucket, then execution, with `extensions.cost` on every answer that got that far.
"""

from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.utilities import get_operation_ast
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.calls import counted_app
from sandbox.dataset import Dataset
from sandbox.shopify import envelopes
from sandbox.shopify.control import control_routes
from sandbox.shopify.cost import QueryCost
from sandbox.shopify.resolvers import admin_schema
from sandbox.shopify.store import SANDBOX_ACCESS_SCOPES, ShopData, WallClock, utc_now
from sandbox.shopify.throttle import STANDARD, Clock, LeakyBucket, Throttle, ThrottlePlan

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
SANDBOX_ACCESS_TOKEN = "shpat_sandbox"


def create_app(
    dataset: Dataset,
    *,
    public_url: str,
    access_tokens: tuple[str, ...] = (SANDBOX_ACCESS_TOKEN,),
    plan: ThrottlePlan = STANDARD,
    clock: Clock = time.monotonic,
    wall_clock: WallClock = utc_now,
    access_scopes: tuple[str, ...] = SANDBOX_ACCESS_SCOPES,
) -> Starlette:
    """The simulator app; `app.state.throttle` holds the buckets, `app.state.shop` the data.

    `clock` drives the cost buckets; `wall_clock` stamps the orders `orderCreate` places;
    `access_scopes` are what `currentAppInstallation` says the app was granted.
    """
    endpoint = _Endpoint(
        ShopData(
            dataset, public_url=public_url, wall_clock=wall_clock, access_scopes=access_scopes
        ),
        Throttle(plan, clock),
        access_tokens,
    )
    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, endpoint.handle, methods=["POST"]),
        *control_routes,
    ]
    return counted_app(routes, shop=endpoint.data, throttle=endpoint.throttle, shopify_webhooks=[])


@lru_cache(maxsize=512)
def _document(query: str) -> DocumentNode | list[GraphQLError]:
    """Parsed and validated once per distinct query text: clients resend the same few."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return [error]
    errors = validate(admin_schema(), document)
    return [_in_shopify_words(error) for error in errors] if errors else document


_UNDEFINED_FIELD = re.compile(r"Cannot query field '(\w+)' on type '(\w+)'\.")


def _in_shopify_words(error: GraphQLError) -> GraphQLError:
    """graphql-core's most common validation message, as Shopify's own validator puts it."""
    match = _UNDEFINED_FIELD.match(error.message)
    if match is None:
        return error
    field, type_name = match.groups()
    return GraphQLError(
        f"Field '{field}' doesn't exist on type '{type_name}'",
        error.nodes,
        extensions={"code": "undefinedField", "typeName": type_name, "fieldName": field},
    )


class _Endpoint:
    def __init__(self, data: ShopData, throttle: Throttle, tokens: tuple[str, ...]) -> None:
        self.data = data
        self.throttle = throttle
        self.tokens = frozenset(tokens)

    async def handle(self, request: Request) -> Response:
        token = request.headers.get("x-shopify-access-token", "")
        if token not in self.tokens:
            return JSONResponse(envelopes.INVALID_TOKEN, status_code=401)
        body = await _body(request)
        if body is None:
            return JSONResponse(envelopes.BAD_REQUEST, status_code=400)
        query, variables, operation_name = body
        document = _document(query)
        if isinstance(document, list):
            return JSONResponse({"errors": [error.formatted for error in document]})
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return JSONResponse({"errors": [{"message": "No operation named in the document."}]})
        fields = [s.name.value for s in operation.selection_set.selections if hasattr(s, "name")]
        request.app.state.calls["graphql " + ",".join(fields)] += 1
        return JSONResponse(self._run(token, document, operation, variables))

    def _run(
        self,
        token: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        values = _with_defaults(operation, variables)
        oversized = envelopes.oversized_inputs(operation.selection_set, fragments, values)
        if oversized:
            return {"errors": oversized}
        cost = QueryCost(admin_schema(), operation, fragments, values)
        requested = cost.requested()
        if requested > envelopes.MAX_QUERY_COST:
            return envelopes.max_cost_exceeded(requested)
        bucket = self.throttle.bucket(token)
        if not bucket.take(requested):
            return envelopes.throttled(_cost_extension(requested, None, bucket))
        result = execute_sync(
            admin_schema(),
            document,
            context_value=self.data,
            variable_values=variables,
            operation_name=operation.name.value if operation.name else None,
        )
        actual = cost.actual(result.data)
        bucket.refund(requested - actual)
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [error.formatted for error in result.errors]
        response["extensions"] = {"cost": _cost_extension(requested, actual, bucket)}
        return response


async def _body(request: Request) -> tuple[str, dict[str, Any], str | None] | None:
    """The query, variables and operation name; Shopify also takes a bare application/graphql."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/graphql"):
        return raw.decode("utf-8", "replace"), {}, None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    variables = body.get("variables") or {}
    name = body.get("operationName")
    if not isinstance(variables, dict):
        return None
    return body["query"], variables, name if isinstance(name, str) else None


def _with_defaults(operation: OperationDefinitionNode, variables: dict[str, Any]) -> dict[str, Any]:
    values = dict(variables)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    return values


def _cost_extension(requested: int, actual: int | None, bucket: LeakyBucket) -> dict[str, Any]:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": bucket.status(),
    }
