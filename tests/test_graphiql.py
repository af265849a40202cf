"""GraphiQL, served with its assets from omnigate itself, working in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from urllib.parse import urlsplit

import pytest
from graphql import parse, validate

from gateway.app import GRAPHIQL_DIR, create_app
from gateway.local_mongod import free_port
from gateway.serving import CoServer, server_config
from gateway.wiring.schema import build_schema

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


# init.js run by node with GraphiQL and React stubbed: prints the props GraphiQL is given
# (functions as their options: the fetcher's)
INIT_HARNESS = """
const fs = require("fs");
let fetcherOptions = null, props = null;
globalThis.window = {location: {origin: "http://127.0.0.1:8000"}};
globalThis.document = {getElementById: () => ({})};
globalThis.GraphiQL = {createFetcher: (options) => { fetcherOptions = options; return "fetcher"; }};
globalThis.React = {createElement: (component, given) => { props = given; }};
globalThis.ReactDOM = {createRoot: () => ({render: () => {}})};
eval(fs.readFileSync(process.argv[1], "utf8"));
console.log(JSON.stringify({fetcher: fetcherOptions, tabs: props.defaultTabs}));
"""


@pytest.fixture(scope="module")
def graphiql_init() -> dict:
    node = shutil.which("node")
    assert node, "node is not installed (the graphql-http audit runs on it too)"
    done = subprocess.run(
        [node, "-e", INIT_HARNESS, str(GRAPHIQL_DIR / "init.js")],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


def test_graphiql_is_given_the_websocket_url(graphiql_init):
    assert graphiql_init["fetcher"] == {
        "url": "http://127.0.0.1:8000/graphql",
        "subscriptionUrl": "ws://127.0.0.1:8000/graphql",
    }


def test_graphiql_example_operations_validate_against_the_schema(graphiql_init):
    schema = build_schema()._schema  # graphql-core's schema inside Strawberry's
    tabs = graphiql_init["tabs"]
    # a tab per principal: anyone, shopper, staff, display, developer
    assert len(tabs) == 5
    assert any("subscription" in tab["query"] and "cartUpdated" in tab["query"] for tab in tabs)
    assert any("stockChanged" in tab["query"] for tab in tabs)
    for tab in tabs:
        assert validate(schema, parse(tab["query"])) == [], tab["query"]
        if tab["variables"]:
            json.loads(tab["variables"])


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


@pytest.mark.browser
def test_a_subscription_started_in_graphiql_receives_its_first_event(
    served_gateway, dataset, tokens
):
    """Anonymous first; then with a display token of another store in the headers pane,
    which GraphiQL sends as connection_init's payload, so the gateway refuses it."""
    if not os.path.exists(CHROMIUM) and not os.environ.get("OMNIGATE_REQUIRE_BROWSER"):
        pytest.skip("Debian chromium is not installed (`make browser`)")
    from playwright.sync_api import expect, sync_playwright

    store = str(dataset.stores[0].id)
    sku = dataset.products[0].sku
    subscription = (
        f'subscription TriedInGraphiQL {{ stockChanged(storeId: "{store}", skus: ["{sku}"]) '
        "{ storeId levels { sku quantity } } }"
    )
    sockets: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on("websocket", lambda socket: sockets.append(socket.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(served_gateway + "/graphql")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=15_000)
            # CodeMirror 5 keeps its editor on its element: the way to type a whole document
            page.evaluate(
                "q => document.querySelector('.graphiql-query-editor .CodeMirror')"
                ".CodeMirror.setValue(q)",
                subscription,
            )
            # GraphiQL has read the document once the tab bears the operation's name
            expect(page.locator(".graphiql-tab-active")).to_contain_text("TriedInGraphiQL")
            page.click(".graphiql-execute-button")
            # the subscription's first message: the stock as it is when subscribing
            expect(page.locator(".result-window")).to_contain_text('"stockChanged"', timeout=15_000)
            result = page.inner_text(".result-window")

            page.click(".graphiql-execute-button")  # stops the subscription
            page.click("button:has-text('Headers')")
            display = tokens.display(str(dataset.stores[1].id), "graphiql-display")
            page.evaluate(
                "h => document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden)"
                " .CodeMirror').CodeMirror.setValue(h)",
                json.dumps({"authorization": f"Bearer {display}"}),
            )
            page.click(".graphiql-execute-button")
            expect(page.locator(".result-window")).to_contain_text("FORBIDDEN", timeout=15_000)
            refused = page.inner_text(".result-window")
        finally:
            browser.close()
    assert sku in result
    assert store in result
    assert sockets == [served_gateway.replace("http://", "ws://") + "/graphql"] * 2
    assert "A display follows the stock of its own store" in refused
    assert not [p for p in problems if "subscriptionUrl" in p or "Content Security" in p], problems
