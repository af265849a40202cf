"""The schema: every domain's queries merged into one Federation v2 subgraph."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.federation import Schema

from gateway.errors import ErrorShaping
from gateway.execution import TrivialFieldExecutor
from resolvers.customers import CustomerQueries
from resolvers.products import ProductQueries
from resolvers.stores import StoreQueries


@strawberry.type
class Query(ProductQueries, StoreQueries, CustomerQueries):
    pass


def build_schema() -> Schema:
    return Schema(
        query=Query,
        extensions=[
            # Clients repeat the same few operations: parse and validate each once. The
            # caches live at module level, so a fresh extension per request still hits them.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            ErrorShaping,
        ],
        execution_context_class=TrivialFieldExecutor,
    )
