"""`omnigate check-upstreams` against the sandbox simulators: one harmless read per vendor,
ok for all three as configured, and for a wrong credential, an unreachable URL or a
missing location or scope, the exact problem and the variable to fix."""

from __future__ import annotations

import os

import httpx
import pytest
from conftest import Sandbox

from connectors.check import CheckFailed
from connectors.http import UpstreamHttp
from connectors.shopify import ShopifySettings
from connectors.shopify.check import check_shopify
from gateway.cli import main
from gateway.local_mongod import free_port
from sandbox.shopify import create_app as shopify_app

URL_VARIABLES = {
    "square": "OMNIGATE_SQUARE__BASE_URL",
    "shopify": "OMNIGATE_SHOPIFY__BASE_URL",
    "salesforce": "OMNIGATE_SALESFORCE__LOGIN_URL",
}


@pytest.fixture
def configured(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Sandbox:
    """The environment `serve` would read, pointing at the sandbox; nothing else."""
    for name in list(os.environ):
        if name.upper().startswith("OMNIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env
    for vendor, variable in URL_VARIABLES.items():
        monkeypatch.setenv(variable, sandbox.url(vendor))
    sandbox.reset_calls()
    return sandbox


def check_upstreams(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    """The exit code and each vendor's line, after its name."""
    code = main(["check-upstreams"])
    out, err = capsys.readouterr()
    assert err == ""
    lines = {line.split()[0]: line.split(maxsplit=1)[1] for line in out.splitlines()}
    return code, lines


def test_all_three_are_ok_after_one_harmless_read_each(configured, capsys):
    code, lines = check_upstreams(capsys)

    assert code == 0
    square, shopify, salesforce = (configured.url(v) for v in URL_VARIABLES)
    assert lines == {
        "square": f"ok      {square}: 13 locations, the online location L0NLINEWH0001 "
        "(Omni Online Fulfilment Centre) among them",
        "shopify": f"ok      {shopify}: shop omnigate-sandbox.myshopify.com (USD), scopes "
        "read_products, read_customers, read_orders, write_orders granted",
        "salesforce": f"ok      {salesforce}: token granted, Contact readable with the 9 "
        "fields omnigate reads, Case set up for after-sales requests",
    }
    # reads only, one each (Salesforce's token is how its read is authorised)
    assert configured.calls("square") == {"GET /v2/locations": 1}
    assert configured.calls("shopify") == {
        "POST /admin/api/2026-07/graphql.json": 1,
        "graphql shop,currentAppInstallation": 1,  # what that POST asked for
    }
    assert sorted(configured.calls("salesforce")) == [
        "GET /services/data/v67.0/query",
        "GET /services/data/v67.0/sobjects/Case/describe",
        "POST /services/oauth2/token",
    ]


@pytest.mark.parametrize(
    ("variable", "vendor", "problem"),
    [
        (
            "OMNIGATE_SQUARE__ACCESS_TOKEN",
            "square",
            "the credentials were refused (HTTP 401: UNAUTHORIZED: This request could not be "
            "authorized.) (check OMNIGATE_SQUARE__ACCESS_TOKEN)",
        ),
        (
            "OMNIGATE_SHOPIFY__ACCESS_TOKEN",
            "shopify",
            "the credentials were refused (HTTP 401: [API] Invalid API key or access token "
            "(unrecognized login or wrong password)) (check OMNIGATE_SHOPIFY__ACCESS_TOKEN)",
        ),
        (
            "OMNIGATE_SALESFORCE__CLIENT_SECRET",
            "salesforce",
            "the client credentials grant was refused (HTTP 400: invalid_client: invalid "
            "client credentials) (check OMNIGATE_SALESFORCE__CLIENT_ID, "
            "OMNIGATE_SALESFORCE__CLIENT_SECRET)",
        ),
    ],
)
def test_a_wrong_credential_is_named(configured, capsys, monkeypatch, variable, vendor, problem):
    monkeypatch.setenv(variable, "not-the-real-one")

    code, lines = check_upstreams(capsys)

    assert code == 1
    assert lines[vendor] == f"FAILED  {configured.url(vendor)}: {problem}"
    others = set(URL_VARIABLES) - {vendor}
    assert all(lines[other].startswith("ok ") for other in others), lines


@pytest.mark.parametrize("vendor", list(URL_VARIABLES))
def test_an_unreachable_url_is_named(configured, capsys, monkeypatch, vendor):
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv(URL_VARIABLES[vendor], nowhere)

    code, lines = check_upstreams(capsys)

    assert code == 1
    assert lines[vendor] == (
        f"FAILED  {nowhere}: no connection: connection refused (nothing listens there) "
        f"(check {URL_VARIABLES[vendor]})"
    )
    assert sum(line.startswith("ok ") for line in lines.values()) == 2


def test_an_online_location_the_seller_lacks_is_named(configured, capsys, monkeypatch):
    monkeypatch.setenv("OMNIGATE_SQUARE__ONLINE_LOCATION_ID", "LWAREHOUSE404")

    code, lines = check_upstreams(capsys)

    assert code == 1
    assert lines["square"].startswith(
        f"FAILED  {configured.url('square')}: the online location 'LWAREHOUSE404' is not one "
        "of the seller's 13 locations (L0NLINEWH0001, "
    )
    assert lines["square"].endswith("(check OMNIGATE_SQUARE__ONLINE_LOCATION_ID)")


def test_an_api_version_the_org_does_not_serve_is_named(configured, capsys, monkeypatch):
    monkeypatch.setenv("OMNIGATE_SALESFORCE__API_VERSION", "v20.0")

    code, lines = check_upstreams(capsys)

    assert code == 1
    assert lines["salesforce"] == (
        f"FAILED  {configured.url('salesforce')}: the org does not serve REST API v20.0 "
        "(HTTP 404: NOT_FOUND: The requested resource does not exist) "
        "(check OMNIGATE_SALESFORCE__API_VERSION)"
    )


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        (("read_products",), "read_customers, read_orders, write_orders"),
        (("read_products", "read_customers", "read_orders"), "write_orders"),
        (("read_products", "read_customers", "write_orders"), None),  # write grants read
    ],
)
async def test_shopify_scopes_the_app_lacks_are_named(dataset, granted, missing):
    app = shopify_app(dataset, public_url="http://shop.test", access_scopes=granted)
    settings = ShopifySettings(base_url="http://shop.test")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        http = UpstreamHttp(client, service="shopify", base_url=settings.base_url)
        if missing is None:
            assert "granted" in await check_shopify(http, settings)
            return
        with pytest.raises(CheckFailed) as failed:
            await check_shopify(http, settings)
    assert failed.value.problem == (
        f"the app's token lacks the access scopes {missing} (granted: {', '.join(sorted(granted))})"
    )
    assert failed.value.fields == ("access_token",)


async def test_shopify_as_pos_and_inventory_needs_the_retail_scopes(dataset):
    granted = (
        "read_products",
        "read_customers",
        "write_orders",
        "read_locations",
        "read_inventory",
    )
    app = shopify_app(dataset, public_url="http://shop.test", access_scopes=granted)
    settings = ShopifySettings(base_url="http://shop.test")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        http = UpstreamHttp(client, service="shopify", base_url=settings.base_url)
        assert "granted" in await check_shopify(http, settings)  # the e-commerce port alone
        with pytest.raises(CheckFailed) as failed:
            await check_shopify(http, settings, retail=True)
    assert failed.value.problem.startswith(
        "the app's token lacks the access scopes write_inventory, read_users (granted: "
    )


def test_the_shopify_set_is_checked_for_its_scopes(configured, capsys, monkeypatch):
    monkeypatch.setenv("OMNIGATE_ADAPTERS__POS", "shopify")
    monkeypatch.setenv("OMNIGATE_ADAPTERS__INVENTORY", "shopify")

    code, lines = check_upstreams(capsys)

    assert code == 0
    assert "read_locations, write_inventory, read_users granted" in lines["shopify"]


def test_hubspot_as_the_crm_is_checked_with_a_contact_and_a_ticket_search(
    configured, capsys, monkeypatch
):
    monkeypatch.setenv("OMNIGATE_ADAPTERS__CRM", "hubspot")
    monkeypatch.setenv("OMNIGATE_HUBSPOT__BASE_URL", configured.url("hubspot"))

    code, lines = check_upstreams(capsys)

    assert code == 0
    assert set(lines) == {"square", "shopify", "hubspot"}  # Salesforce is not called
    assert lines["hubspot"] == (
        f"ok      {configured.url('hubspot')}: token accepted, contacts searchable with the 8 "
        "properties omnigate reads, tickets with its 5 custom properties"
    )
    assert configured.calls("hubspot") == {
        "POST /crm/v3/objects/contacts/search": 1,
        "POST /crm/v3/objects/tickets/search": 1,
    }

    monkeypatch.setenv("OMNIGATE_HUBSPOT__ACCESS_TOKEN", "pat-na1-not-the-real-one")
    code, lines = check_upstreams(capsys)
    assert code == 1
    assert lines["hubspot"].startswith(
        f"FAILED  {configured.url('hubspot')}: the credentials were refused (HTTP 401: "
        "INVALID_AUTHENTICATION: Authentication credentials not found."
    )
    assert lines["hubspot"].endswith("(check OMNIGATE_HUBSPOT__ACCESS_TOKEN)")
