"""Serving the vendor simulators over real HTTP, each on its own port like a real vendor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette

from sandbox.dataset import Dataset, build_dataset
from sandbox.hubspot import create_app as hubspot_app
from sandbox.identity import create_app as identity_app
from sandbox.salesforce import create_app as salesforce_app
from sandbox.shopify import STANDARD, ThrottlePlan
from sandbox.shopify import create_app as shopify_app
from sandbox.square import create_app as square_app
from sandbox.square.webhooks import INVENTORY_COUNT_UPDATED, subscribe_directly

AppFactory = Callable[..., Starlette]

# The gateway's default settings point at these ports (connectors/*/settings.py, and the
# `auth` issuer in gateway/settings.py for the identity provider).
DEFAULT_PORTS = {
    "square": 8101,
    "shopify": 8102,
    "salesforce": 8103,
    "identity": 8104,
    "hubspot": 8105,
}
FACTORIES: dict[str, AppFactory] = {
    "square": square_app,
    "shopify": shopify_app,
    "salesforce": salesforce_app,
    "identity": identity_app,
    "hubspot": hubspot_app,
}


# A bucket no load test drains: for runs that measure the gateway, not Shopify's limits.
UNTHROTTLED = ThrottlePlan(maximum_available=1e12, restore_rate=1e12)


@dataclass(frozen=True, slots=True)
class SandboxApp:
    vendor: str
    port: int
    url: str
    app: Starlette


def sandbox_apps(
    host: str = "127.0.0.1",
    ports: dict[str, int] | None = None,
    *,
    scale: float = 1.0,
    seed: int = 42,
    dataset: Dataset | None = None,
    shopify_plan: ThrottlePlan = STANDARD,
    hubspot_webhook_target: str | None = None,
) -> list[SandboxApp]:
    """One app per vendor over one shared dataset.

    Shopify throttles by query cost as the real one does on `shopify_plan`; tests and
    benchmarks that are not about throttling pass `UNTHROTTLED`. HubSpot sends its signed
    contact webhooks to `hubspot_webhook_target` (a gateway's /webhooks/hubspot), if given.
    """
    chosen = {**DEFAULT_PORTS, **(ports or {})}
    data = dataset or build_dataset(scale, seed)
    options: dict[str, dict[str, object]] = {
        "shopify": {"plan": shopify_plan},
        "hubspot": {"webhook_target": hubspot_webhook_target},
    }
    apps = []
    for vendor, factory in FACTORIES.items():
        url = f"http://{host}:{chosen[vendor]}"
        app = factory(data, public_url=url, **options.get(vendor, {}))
        apps.append(SandboxApp(vendor, chosen[vendor], url, app))
    return apps


def send_webhooks_to(
    apps: list[SandboxApp], *, square_url: str, square_key: str, shopify_url: str
) -> None:
    """Have the simulators send their stock and product webhooks to a gateway: Square's
    `inventory.count.updated` to `square_url` signed with `square_key`, Shopify's
    `products/update` and `inventory_levels/update` to `shopify_url` (signed with the
    sandbox app's client secret)."""
    for app in apps:
        if app.vendor == "square":
            subscribe_directly(app.app.state, square_url, square_key, (INVENTORY_COUNT_UPDATED,))
        elif app.vendor == "shopify":
            app.app.state.shopify_webhooks.append(("products/update", shopify_url))
            app.app.state.shopify_webhooks.append(("inventory_levels/update", shopify_url))
