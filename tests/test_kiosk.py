"""The reference in-store page (docs/kiosk.md): served by omnigate outside production with
its own assets under GraphiQL's strict CSP, and working in real Chromium: a product looked
up shows its stock here and in the nearest stores, a stock change in Square reaches the page
through the signed webhook and the stockChanged subscription, and a customer's hand-off
shows her wishlist.

The browser tests drive Playwright's async API in the test's event loop, which also serves
the gateway (live_api.served), so the sandbox's webhook reaches it over loopback HTTP."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cart_api import stocked_skus
from conftest import bearer
from live_api import live_settings, served, set_stock, shopify_webhooks, square_webhooks
from production_secrets import PRODUCTION_SECRETS

from engine.view import GRAPHIQL_CSP
from gateway.app import create_app
from gateway.local_mongod import free_port
from gateway.settings import Environment, Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ASSETS = ("kiosk.js", "live.js", "kiosk.css")
# `OMNIGATE_KIOSK_SCREENSHOT=docs/kiosk.png pytest tests/test_kiosk.py -k square` refreshes
# the docs' screenshot from the stock test's page
SCREENSHOT = os.environ.get("OMNIGATE_KIOSK_SCREENSHOT")
HANDOFF = """
mutation ($storeId: ID!) {
  kioskHandoffCreate(storeId: $storeId) { handoff { token } userErrors { code } }
}
"""


async def test_the_kiosk_page_loads_only_local_assets_under_the_strict_csp(gateway):
    response = await gateway.http.get("/kiosk")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == GRAPHIQL_CSP
    assert "script-src 'self'" in GRAPHIQL_CSP
    assert "connect-src 'self'" in GRAPHIQL_CSP  # its fetches and its websocket
    assert "<script>" not in response.text  # no inline script for the CSP to forbid
    assert not re.search(r"\son[a-z]+=", response.text)  # nor inline event handlers
    assert "http://" not in response.text
    assert "https://" not in response.text
    for asset in ASSETS:
        served_asset = await gateway.http.get(f"/kiosk/{asset}")
        assert served_asset.status_code == 200, asset
        assert f"/kiosk/{asset}" in response.text
        assert "http://" not in served_asset.text
        assert "https://" not in served_asset.text


async def test_the_kiosk_page_is_not_served_in_production():
    real: dict[str, Any] = {**PRODUCTION_SECRETS, "auth": {"issuer": "https://idp.example/"}}
    production = Settings(_env_file=None, env=Environment.PRODUCTION, **real)  # type: ignore[call-arg]
    assert not production.graphiql_enabled
    # the routes alone: no lifespan, so no vendor or database is reached
    transport = httpx.ASGITransport(app=create_app(production))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        for path in ("/kiosk", *(f"/kiosk/{asset}" for asset in ASSETS)):
            assert (await http.get(path)).status_code == 404, path


async def test_the_kiosk_page_follows_the_graphiql_switch(settings, make_gateway):
    async with make_gateway(settings.with_changes(graphiql=False)) as gateway:
        assert (await gateway.http.get("/kiosk")).status_code == 404
        assert (await gateway.http.get("/kiosk/live.js")).status_code == 404


def require_chromium() -> None:
    if not os.path.exists(CHROMIUM) and not os.environ.get("OMNIGATE_REQUIRE_BROWSER"):
        pytest.skip("Debian chromium is not installed (`make browser`)")


@asynccontextmanager
async def chromium_page(problems: list[str], hosts: set[str]) -> AsyncIterator[Any]:
    """A page in Debian's Chromium; console errors and the hosts it asked land in the lists."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 500})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
            yield page
        finally:
            await browser.close()


@asynccontextmanager
async def price_restored(
    shopify_url: str, sku: str, price: Decimal
) -> AsyncIterator[Callable[[str], Awaitable[list[int]]]]:
    """Sets the price in the Shopify simulator (its webhooks' statuses); puts it back."""
    async with httpx.AsyncClient(base_url=shopify_url, timeout=10) as client:

        async def set_price(amount: str) -> list[int]:
            path = f"/_sandbox/shopify/variants/{sku}/price"
            answer = await client.post(path, json={"price": amount})
            assert answer.status_code == 200, answer.text
            return list(answer.json()["deliveries"])

        try:
            yield set_price
        finally:
            await set_price(str(price))


@pytest.mark.browser
async def test_square_stock_and_shopify_price_changes_appear_on_the_kiosk_page(
    mongod, sandbox, dataset, tokens, restore_stock
):
    require_chromium()
    from playwright.async_api import expect

    store = str(dataset.stores[0].id)
    (sku,) = stocked_skus(dataset, store, 3, 1)
    product = dataset.products_by_sku[sku]
    shelf = dataset.inventory[(product.square_variation_id, store)]
    port = free_port()
    problems: list[str] = []
    hosts: set[str] = set()
    async with (
        square_webhooks(sandbox.url("square"), f"http://127.0.0.1:{port}/webhooks/square") as key,
        served(live_settings(mongod, sandbox, port, key), port) as gateway,
        shopify_webhooks(sandbox.url("shopify"), f"{gateway.url}/webhooks/shopify"),
        price_restored(sandbox.url("shopify"), sku, product.price) as set_price,
        chromium_page(problems, hosts) as page,
    ):
        sockets: list[Any] = []

        def through(socket: Any) -> None:  # each socket the page opens, to the gateway
            socket.connect_to_server()
            sockets.append(socket)

        await page.route_web_socket("**/graphql", through)
        # as a kiosk device: its token goes in the requests and in connection_init
        kiosk = tokens.kiosk(store, "kiosk-page-0")
        await page.goto(f"{gateway.url}/kiosk?store={store}#token={kiosk}")
        await expect(page.locator("#store-name")).to_have_text(dataset.stores[0].name)
        # by name: several products match, the page offers them, one is chosen
        await page.fill("#query", "Cotton Mug")
        await page.click("#search button")
        await page.locator("#matches button", has_text=product.title).click()
        await expect(page.locator("#product-sku")).to_have_text(sku)
        # by SKU: shown at once
        await page.fill("#query", sku)
        await page.click("#search button")
        here = page.locator("#stock-here")
        await expect(page.locator("#product-name")).to_have_text(product.title)
        await expect(here).to_have_text(str(shelf))
        # the subscription's first message has arrived: from here on, changes are pushed
        await expect(page.locator("#stock-here[data-live]")).to_have_count(1)
        await expect(page.locator("#live-status")).to_have_text("live")
        nearby = page.locator("#nearby tbody tr[data-store]")
        await expect(nearby.first).to_be_visible()
        assert store not in await nearby.evaluate_all("rows => rows.map(r => r.dataset.store)")

        assert await set_stock(sandbox.url("square"), [(sku, store, shelf - 2)]) == [200]
        await expect(here).to_have_text(str(shelf - 2), timeout=2_000)
        # a price changed in Shopify: its signed products/update, then productChanged
        assert await set_price("12.50") == [200]
        await expect(page.locator("#product-price")).to_have_text("12.50 USD", timeout=2_000)
        assert await page.locator("#customer").is_visible()  # a kiosk takes hand-offs
        if SCREENSHOT:
            await page.wait_for_timeout(1_100)  # the changed count's highlight fades first
            await page.screenshot(path=Path(SCREENSHOT))

        # the socket closes as the gateway closes a subscriber that fell behind; the page
        # reconnects, subscribes again, and shows what changed while it was away
        assert len(sockets) == 1
        await sockets[0].close(code=4008, reason="Subscriber fell behind")
        await expect(page.locator("#live-status")).to_have_text("reconnecting")
        assert await set_stock(sandbox.url("square"), [(sku, store, shelf - 3)]) == [200]
        await expect(here).to_have_text(str(shelf - 3))
        await expect(page.locator("#live-status")).to_have_text("live")
        assert len(sockets) == 2
    assert not problems, problems
    assert hosts <= {"127.0.0.1"}, hosts


@pytest.mark.browser
async def test_a_customer_hands_her_session_to_the_kiosk_page(settings, sandbox, dataset, tokens):
    require_chromium()
    from playwright.async_api import expect

    store = str(dataset.stores[0].id)
    customer = dataset.crm_contacts[11]
    wished = dataset.products[5]
    port = free_port()
    problems: list[str] = []
    async with (
        served(settings, port) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=10) as http,
        chromium_page(problems, set()) as page,
    ):
        as_customer = bearer(tokens.customer(customer.id))
        mutation = "mutation ($sku: ID!) { wishlistAdd(sku: $sku) { userErrors { code } } }"
        added = await http.post(
            "/graphql", json={"query": mutation, "variables": {"sku": wished.sku}},
            headers=as_customer,
        )  # fmt: skip
        assert added.json()["data"]["wishlistAdd"]["userErrors"] == [], added.text
        made = await http.post(
            "/graphql", json={"query": HANDOFF, "variables": {"storeId": store}},
            headers=as_customer,
        )  # fmt: skip
        code = made.json()["data"]["kioskHandoffCreate"]["handoff"]["token"]

        kiosk_token = tokens.kiosk(store, "kiosk-page-1")
        await page.goto(f"{gateway.url}/kiosk?store={store}#token={kiosk_token}")
        await page.fill("#handoff-code", "not-a-hand-off")
        await page.click("#handoff button")
        await expect(page.locator("#message")).to_contain_text("UNAUTHENTICATED")
        await expect(page.locator("#customer-view")).to_be_hidden()

        await page.fill("#handoff-code", code)
        await page.click("#handoff button")
        await expect(page.locator("#customer-name")).to_have_text(customer.first_name)
        await expect(page.locator("#wishlist-items")).to_contain_text(wished.title)
        await page.click("#handoff-end")
        await expect(page.locator("#customer-view")).to_be_hidden()
    # the refused hand-off's 401 is the only error the console shows
    assert all("401" in problem for problem in problems), problems


@pytest.mark.browser
async def test_the_kiosk_page_as_a_display_follows_only_its_own_store(settings, dataset, tokens):
    """A display reads products, stock and stores; its own store's stock is live, another
    store's stockChanged is refused (FORBIDDEN) and the page marks those rows; a display
    takes no hand-off, so none is offered."""
    require_chromium()
    from playwright.async_api import expect

    store = str(dataset.stores[0].id)
    (sku,) = stocked_skus(dataset, store, 3, 1)
    port = free_port()
    problems: list[str] = []
    async with served(settings, port) as gateway, chromium_page(problems, set()) as page:
        display = tokens.display(store, "display-page-1")
        await page.goto(f"{gateway.url}/kiosk?store={store}#token={display}")
        await page.fill("#query", sku)
        await page.click("#search button")
        await expect(page.locator("#stock-here[data-live]")).to_have_count(1)
        other_stores = page.locator("#nearby tbody tr[data-store] td:last-child")
        await expect(other_stores.first).to_have_attribute("title", "not live")
        assert await page.locator("#customer").is_hidden()
    assert not problems, problems
