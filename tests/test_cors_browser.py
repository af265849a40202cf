"""CORS as Chromium enforces it: a page on an allowed origin calls /graphql and reads the
answer; a page on another origin is stopped by the browser before its request is sent.
Three loopback origins: the gateway's and two pages', each on a port of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from live_server import serving
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUERY = "{ products(first: 1) { edges { node { sku } } } }"
# what a storefront's GraphQL client does: a JSON POST (so a preflight), its credentials
# mode, reading the body and an exposed header; a browser refusal rejects with TypeError
FETCH = """async ([url, query]) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials: "include",
      headers: {"content-type": "application/json", "accept": "application/graphql-response+json"},
      body: JSON.stringify({query}),
    });
    return {status: response.status, body: await response.json(),
            requestId: response.headers.get("x-request-id")};
  } catch (error) {
    return {error: `${error.name}: ${error.message}`};
  }
}"""


async def _storefront(request):
    return HTMLResponse("<!doctype html><title>storefront</title><p>storefront</p>")


@pytest.fixture
def storefronts() -> Iterator[tuple[str, str]]:
    """Two pages on two loopback origins: (allowed, not allowed)."""
    page = Starlette(routes=[Route("/", _storefront)])
    with serving(page) as allowed, serving(page) as other:
        yield allowed, other


@pytest.mark.browser
def test_chromium_lets_only_the_allowed_origin_call_the_gateway(settings, sandbox, storefronts):
    if not os.path.exists(CHROMIUM) and not os.environ.get("OMNIGATE_REQUIRE_BROWSER"):
        pytest.skip("Debian chromium is not installed (`make browser`)")
    from playwright.sync_api import sync_playwright

    allowed, other = storefronts
    cors = {"allow_origins": [allowed], "allow_credentials": True}
    with (
        serving(create_app(settings.with_changes(cors=cors))) as gateway,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            console: list[str] = []
            page = browser.new_page()
            page.on("console", lambda message: console.append(message.text))

            page.goto(allowed + "/")
            sandbox.reset_calls()
            answered = page.evaluate(FETCH, [gateway + "/graphql", QUERY])
            calls_allowed = sandbox.total_calls("shopify")

            page.goto(other + "/")
            sandbox.reset_calls()
            blocked = page.evaluate(FETCH, [gateway + "/graphql", QUERY])
            calls_blocked = sandbox.total_calls("shopify")
        finally:
            browser.close()

    assert answered["status"] == 200, answered
    assert answered["body"]["data"]["products"]["edges"][0]["node"]["sku"]
    assert answered["requestId"]  # exposed to the page's script
    assert calls_allowed > 0

    assert blocked == {"error": "TypeError: Failed to fetch"}
    assert any("blocked by CORS policy" in line and other in line for line in console), console
    # the preflight was refused, so the query itself never reached the gateway
    assert calls_blocked == 0
