"""The schema: every domain's queries merged into one Federation v2 subgraph."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.federation import Schema
from strawberry.types import ExecutionContext

from gateway.errors import ErrorShaping, shape_errors
from gateway.execution import TrivialFieldExecutor
from gateway.extension_hooks import PlannedExtensionsRunner
from gateway.limits import LimitedValidation, OperationLimits, TokenLimitedParser
from gateway.notices import ResponseNotices
from gateway.request_deadline import RequestDeadline
from resolvers.cart_mutations import CartMutations, CartQueries
from resolvers.cart_subscriptions import CartSubscriptions
from resolvers.checkout import CheckoutMutations
from resolvers.customers import CustomerMutations, CustomerQueries
from resolvers.offers import OfferQueries
from resolvers.products import ProductQueries
from resolvers.stores import StoreQueries
from resolvers.wishlist import WishlistMutations, WishlistQueries


@strawberry.type
class Query(
    ProductQueries, StoreQueries, CustomerQueries, CartQueries, WishlistQueries, OfferQueries
):
    pass


@strawberry.type
class Mutation(CartMutations, WishlistMutations, CheckoutMutations, CustomerMutations):
    pass


@strawberry.type
class Subscription(CartSubscriptions):
    pass


class GatewaySchema(Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return PlannedExtensionsRunner(execution_context, extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Every result passes here, subscription events included (which skip extensions'
        # on_operation): shape in place so a websocket client gets the same codes and the
        # same masking as HTTP. Unexpected errors are logged by shape_errors.
        errors[:] = shape_errors(errors)


def build_schema(limits: OperationLimits | None = None) -> Schema:
    """`limits` default to the development ones (introspection and suggestions on); they
    change what is accepted, never the printed SDL."""
    policy = limits or OperationLimits.defaults()
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Clients repeat the same few operations: parse and validate each once (limits
            # included). The caches live at module level, so a fresh extension per request
            # still hits them.
            lambda: TokenLimitedParser(policy.max_tokens, maxsize=512),
            lambda: LimitedValidation(policy, maxsize=512),
            ErrorShaping,
            RequestDeadline,
            # errors that keep their field's data (STALE_DATA) and extensions.warnings
            ResponseNotices,
        ],
        execution_context_class=TrivialFieldExecutor,
    )
