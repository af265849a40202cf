"""The schema: every domain's queries merged into one Federation v2 subgraph.

Leans on Strawberry 0.341 beyond its documented API: `GatewaySchema.entities_resolver`
overrides the method its federation Schema makes the `_entities` field of, with the
signature it inspects (`FederationAny` from `strawberry.federation.schema`, not exported).
tests/test_hostile_bodies.py fails if Strawberry stops calling it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.federation import Schema
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import ExecutionContext, Info
from strawberry.types.base import StrawberryObjectDefinition

from engine.errors import shape_errors
from engine.execution import FastExecutionObserver, TrivialFieldExecutor
from engine.operation import OperationExtension, OperationObserver
from resolvers.after_sales import AfterSalesMutations
from resolvers.cart_mutations import CartMutations, CartQueries
from resolvers.cart_subscriptions import CartSubscriptions
from resolvers.checkout import CheckoutMutations
from resolvers.customer_search import CustomerSearchQueries
from resolvers.customer_timeline import TIMELINE_ITEM_TYPES
from resolvers.customers import CustomerMutations, CustomerQueries
from resolvers.entities import EntityKeys, checked_representation
from resolvers.live import LiveSubscriptions
from resolvers.offers import OfferQueries
from resolvers.orders import OrderQueries, OrderSubscriptions
from resolvers.products import ProductQueries
from resolvers.return_requests import ReturnRequestMutations
from resolvers.returns import ReturnMutations
from resolvers.stores import StoreQueries
from resolvers.wishlist import WishlistMutations, WishlistQueries


@strawberry.type
class Query(
    ProductQueries,
    StoreQueries,
    CustomerQueries,
    CustomerSearchQueries,
    OrderQueries,
    CartQueries,
    WishlistQueries,
    OfferQueries,
):
    pass


@strawberry.type
class Mutation(
    CartMutations,
    WishlistMutations,
    CheckoutMutations,
    ReturnMutations,
    ReturnRequestMutations,
    AfterSalesMutations,
    CustomerMutations,
):
    pass


@strawberry.type
class Subscription(CartSubscriptions, LiveSubscriptions, OrderSubscriptions):
    pass


class GatewaySchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Every result passes here, subscription events included (which skip extensions'
        # on_operation): shape in place so a websocket client gets the same codes and the
        # same masking as HTTP. Unexpected errors are logged by shape_errors.
        errors[:] = shape_errors(errors)

    # The bad representations are answered here, each at its index, and only the good
    # ones reach Strawberry's resolver (resolvers/entities.py; the module docstring says
    # why this leans on Strawberry's internals).
    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        checked = [
            checked_representation(representation, index, self._entity_keys)
            for index, representation in enumerate(representations)
        ]
        good = [FederationAny(item) for item in checked if isinstance(item, dict)]
        resolved = iter(super().entities_resolver(info, good))
        # a refusal in place of its entity: graphql-core raises it at that index
        return [
            next(resolved) if isinstance(item, dict) else FederationAny(item) for item in checked
        ]

    @cached_property
    def _entity_keys(self) -> EntityKeys:
        keys: dict[str, frozenset[str]] = {}
        for name, type_ in self.schema_converter.type_map.items():
            definition = type_.definition
            if not isinstance(definition, StrawberryObjectDefinition):
                continue
            for directive in definition.directives or ():
                if isinstance(directive, Key):
                    keys[name] = frozenset(str(directive.fields).split())
        return keys


def build_schema(
    admission: Sequence[type[SchemaExtension]] = (),
    *,
    fast_execution: bool = True,
    verify_fast_execution: bool = False,
    execution_observer: FastExecutionObserver | None = None,
    operation_observer: OperationObserver | None = None,
) -> Schema:
    """The schema with the engine's extensions. `admission`: extension classes made with
    no arguments, whose hooks run on every operation and whose errors are shaped (the
    runtime's parser and validation with its operation limits, gateway/wiring/schema.py);
    joined with the engine's into one class (`OperationExtension.joined`); it changes what
    is accepted, never the printed SDL. `fast_execution`: the engine's executor
    (engine/execution.py), or graphql-core's own; with it, `verify_fast_execution` checks
    each of its answers against graphql-core's and `execution_observer` hears of each
    fallback to graphql-core's path.
    `operation_observer` hears of every operation's end (the runtime's metrics)."""
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # reached only through the TimelineItem interface, so named here
        types=TIMELINE_ITEM_TYPES,
        extensions=[
            # the request deadline, notices (errors that keep their field's data, such as
            # STALE_DATA, and extensions.warnings) and error shaping, with `admission`
            OperationExtension.observed_by(operation_observer).joined(*admission),
        ],
        execution_context_class=(
            TrivialFieldExecutor.configured(
                observer=execution_observer, verify=verify_fast_execution
            )
            if fast_execution
            else None
        ),
    )
