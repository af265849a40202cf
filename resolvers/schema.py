"""The schema: every domain's queries merged into one Federation v2 subgraph."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.federation import Schema
from strawberry.types import ExecutionContext

from engine.errors import shape_errors
from engine.execution import FastExecutionObserver, TrivialFieldExecutor
from engine.operation import OperationExtension, OperationObserver
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
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Every result passes here, subscription events included (which skip extensions'
        # on_operation): shape in place so a websocket client gets the same codes and the
        # same masking as HTTP. Unexpected errors are logged by shape_errors.
        errors[:] = shape_errors(errors)


ExtensionFactory = Callable[[], SchemaExtension] | type[SchemaExtension]


def build_schema(
    admission: Sequence[ExtensionFactory] = (),
    *,
    fast_execution: bool = True,
    verify_fast_execution: bool = False,
    execution_observer: FastExecutionObserver | None = None,
    operation_observer: OperationObserver | None = None,
) -> Schema:
    """The schema with the engine's extensions. `admission`: what runs first on every
    operation, before errors are shaped (the runtime's parser and validation with its
    operation limits, gateway/wiring/schema.py); it changes what is accepted, never the
    printed SDL. `fast_execution`: the engine's executor (engine/execution.py), or
    graphql-core's own; with it, `verify_fast_execution` checks each of its answers against
    graphql-core's and `execution_observer` hears of each fallback to graphql-core's path.
    `operation_observer` hears of every operation's end (the runtime's metrics)."""
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            *admission,
            # the request deadline, notices (errors that keep their field's data, such as
            # STALE_DATA, and extensions.warnings) and error shaping
            OperationExtension.observed_by(operation_observer),
        ],
        execution_context_class=(
            TrivialFieldExecutor.configured(
                observer=execution_observer, verify=verify_fast_execution
            )
            if fast_execution
            else None
        ),
    )
