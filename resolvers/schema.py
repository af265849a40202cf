"""The schema: every domain's queries merged into one Federation v2 subgraph."""

from __future__ import annotations

import strawberry
from strawberry.federation import Schema

from gateway.errors import ErrorShaping
from gateway.execution import TrivialFieldExecutor
from gateway.limits import LimitedValidation, OperationLimits, TokenLimitedParser
from resolvers.customers import CustomerQueries
from resolvers.products import ProductQueries
from resolvers.stores import StoreQueries


@strawberry.type
class Query(ProductQueries, StoreQueries, CustomerQueries):
    pass


def build_schema(limits: OperationLimits | None = None) -> Schema:
    """`limits` default to the development ones (introspection and suggestions on); they
    change what is accepted, never the printed SDL."""
    policy = limits or OperationLimits.defaults()
    return Schema(
        query=Query,
        extensions=[
            # Clients repeat the same few operations: parse and validate each once (limits
            # included). The caches live at module level, so a fresh extension per request
            # still hits them.
            lambda: TokenLimitedParser(policy.max_tokens, maxsize=512),
            lambda: LimitedValidation(policy, maxsize=512),
            ErrorShaping,
        ],
        execution_context_class=TrivialFieldExecutor,
    )
