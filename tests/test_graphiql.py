"""GraphiQL, served with its assets from omnigate itself, working in a real browser."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import pytest

from gateway.app import create_app
from gateway.local_mongod import free_port
from gateway.serving import CoServer, server_config

CHROMIUM = "/usr/bin/chromium"
ASSETS = (
    "graphiql.min.js",
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
)


async def test_graphiql_page_loads_only_local_assets_under_a_strict_csp(gateway):
    response = await gateway.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "<script>" not in response.text  # no inline script for the CSP to forbid
    assert "http://" not in response.text
    assert "https://" not in response.text
    for asset in ASSETS:
        served = await gateway.http.get(f"/graphiql/vendor/{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 1000
    assert (await gateway.http.get("/graphiql/init.js")).status_code == 200


async def test_graphiql_is_off_in_production(settings, make_gateway):
    production = settings.with_changes(graphiql=False)
    async with make_gateway(production) as gateway:
        response = await gateway.http.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code != 200 or "graphiql" not in response.text.lower()
        assert (await gateway.http.get("/graphiql/vendor/graphiql.min.js")).status_code == 404


@pytest.fixture
def served_gateway(settings):
    """The gateway on a real loopback port, for the browser."""
    port = free_port()
    server = CoServer(server_config(create_app(settings), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("gateway failed to start")
        threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.browser
def test_graphiql_runs_a_query_in_chromium(served_gateway, dataset):
    if not os.path.exists(CHROMIUM) and not os.environ.get("OMNIGATE_REQUIRE_BROWSER"):
        pytest.skip("Debian chromium is not installed (`make browser`)")
    from playwright.sync_api import sync_playwright

    requested_hosts: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on(
                "request", lambda request: requested_hosts.add(urlsplit(request.url).hostname or "")
            )
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(served_gateway + "/graphql", wait_until="networkidle")
            page.wait_for_selector(".graphiql-container", timeout=15_000)
            page.click(".graphiql-execute-button")
            page.wait_for_function(
                "() => document.querySelector('.result-window')?.innerText.includes('\"sku\"')",
                timeout=15_000,
            )
            result = page.inner_text(".result-window")
        finally:
            browser.close()
    assert dataset.products[0].sku in result or '"sku"' in result
    assert requested_hosts <= {"127.0.0.1"}, requested_hosts
    assert not [p for p in problems if "Content Security Policy" in p], problems
