"""The Square simulator app: the Square endpoints omnigate reads, CreateOrder, and the
Payments API, on Square's own contract."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from sandbox.calls import counted_app
from sandbox.dataset import Dataset
from sandbox.square.catalog import batch_retrieve_catalog_objects, search_catalog_objects
from sandbox.square.create_order import create_order
from sandbox.square.customers import bulk_retrieve_customers, search_customers
from sandbox.square.envelope import Gate, NoRateLimit, RateLimitPolicy, square_endpoint
from sandbox.square.inventory import batch_retrieve_inventory_counts
from sandbox.square.inventory_changes import batch_change_inventory
from sandbox.square.locations import list_locations
from sandbox.square.loyalty import retrieve_loyalty_account, search_loyalty_accounts
from sandbox.square.loyalty_events import search_loyalty_events
from sandbox.square.loyalty_points import accumulate_loyalty_points, adjust_loyalty_points
from sandbox.square.orders import batch_retrieve_orders, search_orders
from sandbox.square.payments import (
    cancel_payment,
    complete_payment,
    create_payment,
    get_payment,
    list_payments,
)
from sandbox.square.refunds import refund_payment
from sandbox.square.webhooks import (
    control_routes,
    create_webhook_subscription,
    delete_webhook_subscription,
)
from sandbox.square.world import SquareWorld, WallClock, utc_now

SANDBOX_ACCESS_TOKEN = "sandbox-square-token"


def create_app(
    dataset: Dataset,
    *,
    public_url: str,
    access_token: str = SANDBOX_ACCESS_TOKEN,
    rate_limit: RateLimitPolicy | None = None,
    wall_clock: WallClock = utc_now,
) -> Starlette:
    """The simulator; `public_url` is where it is reachable (webhook notification URLs sign it).

    `wall_clock` stamps the orders CreateOrder makes; `app.state.square` holds the seller's
    data, including those orders.
    """
    post = ["POST"]
    routes: list[BaseRoute] = [
        Route("/v2/locations", square_endpoint(list_locations), methods=["GET"]),
        Route("/v2/catalog/search", square_endpoint(search_catalog_objects), methods=post),
        Route(
            "/v2/catalog/batch-retrieve",
            square_endpoint(batch_retrieve_catalog_objects),
            methods=post,
        ),
        Route(
            "/v2/inventory/counts/batch-retrieve",
            square_endpoint(batch_retrieve_inventory_counts),
            methods=post,
        ),
        Route("/v2/customers/search", square_endpoint(search_customers), methods=post),
        Route(
            "/v2/customers/bulk-retrieve", square_endpoint(bulk_retrieve_customers), methods=post
        ),
        Route("/v2/orders", square_endpoint(create_order), methods=post),
        Route("/v2/orders/search", square_endpoint(search_orders), methods=post),
        Route("/v2/orders/batch-retrieve", square_endpoint(batch_retrieve_orders), methods=post),
        Route(
            "/v2/loyalty/accounts/search", square_endpoint(search_loyalty_accounts), methods=post
        ),
        Route("/v2/loyalty/events/search", square_endpoint(search_loyalty_events), methods=post),
        Route(
            "/v2/loyalty/accounts/{account_id}",
            square_endpoint(retrieve_loyalty_account),
            methods=["GET"],
        ),
        Route(
            "/v2/loyalty/accounts/{account_id}/accumulate",
            square_endpoint(accumulate_loyalty_points),
            methods=post,
        ),
        Route(
            "/v2/loyalty/accounts/{account_id}/adjust",
            square_endpoint(adjust_loyalty_points),
            methods=post,
        ),
        Route("/v2/payments", square_endpoint(create_payment), methods=post),
        Route("/v2/payments", square_endpoint(list_payments), methods=["GET"]),
        Route("/v2/payments/{payment_id}", square_endpoint(get_payment), methods=["GET"]),
        Route(
            "/v2/payments/{payment_id}/complete",
            square_endpoint(complete_payment),
            methods=post,
        ),
        Route("/v2/payments/{payment_id}/cancel", square_endpoint(cancel_payment), methods=post),
        Route("/v2/refunds", square_endpoint(refund_payment), methods=post),
        Route(
            "/v2/inventory/changes/batch-create",
            square_endpoint(batch_change_inventory),
            methods=post,
        ),
        Route(
            "/v2/webhooks/subscriptions",
            square_endpoint(create_webhook_subscription),
            methods=post,
        ),
        Route(
            "/v2/webhooks/subscriptions/{subscription_id}",
            square_endpoint(delete_webhook_subscription),
            methods=["DELETE"],
        ),
        *control_routes,
    ]
    return counted_app(
        routes,
        square=SquareWorld(dataset, wall_clock=wall_clock),
        square_gate=Gate(access_token=access_token, rate_limit=rate_limit or NoRateLimit()),
        public_url=public_url.rstrip("/"),
        square_webhooks={},
    )
