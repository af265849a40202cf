"""The simulator's test-only edit of a Contact: it changes what the REST API answers and
moves LastModifiedDate, so the adapter's change query finds it as it finds a real edit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from connectors.http import UpstreamHttp
from connectors.salesforce import SalesforceCrm, SalesforceSettings
from sandbox.dataset import build_dataset
from sandbox.salesforce import create_app

PUBLIC_URL = "http://salesforce.sandbox.test"
NOW = datetime(2026, 11, 24, 9, 30, 15, 654321, tzinfo=UTC)


@pytest.fixture
def app() -> Starlette:
    # a fresh table per test: the dataset is shared, the simulator's table is its own
    return create_app(build_dataset(), public_url=PUBLIC_URL, clock=lambda: NOW)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


@pytest.fixture
def crm(http: httpx.AsyncClient) -> SalesforceCrm:
    upstream = UpstreamHttp(http, service="salesforce", base_url=PUBLIC_URL)
    return SalesforceCrm(upstream, SalesforceSettings(login_url=PUBLIC_URL))


async def test_an_edit_changes_the_contact_and_its_last_modified_date(http, crm, app):
    contact = build_dataset().crm_contacts[0]
    response = await http.post(
        f"/_sandbox/salesforce/contacts/{contact.id}",
        json={"FirstName": "Renamed", "HasOptedOutOfEmail": True},
    )
    assert response.status_code == 200
    record = response.json()
    assert record["FirstName"] == "Renamed"
    # cut to the second, as Salesforce stores it
    assert record["LastModifiedDate"] == "2026-11-24T09:30:15.000+0000"

    found = await crm.customers_by_id([contact.id])
    assert found[contact.id].given_name == "Renamed"
    assert found[contact.id].email_opt_in is False
    changed = await crm.contacts_modified_since(NOW - timedelta(minutes=1))
    assert [c.ref.id for c in changed] == [contact.id]
    assert changed[0].updated_at == NOW.replace(microsecond=0)
    assert app.state.calls.get(f"POST /_sandbox/salesforce/contacts/{contact.id}") is None


async def test_an_empty_edit_only_touches_the_contact(http, crm):
    contact = build_dataset().crm_contacts[1]
    response = await http.post(f"/_sandbox/salesforce/contacts/{contact.id}", json={})
    assert response.json()["FirstName"] == contact.first_name
    changed = await crm.contacts_modified_since(NOW.replace(microsecond=0))
    assert [c.ref.id for c in changed] == [contact.id]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("003NOSUCHCONTACT00", {}, 404),
        (None, {"Id": "003"}, 400),
        (None, {"LastModifiedDate": "2020-01-01T00:00:00Z"}, 400),
        (None, {"HasOptedOutOfEmail": "yes"}, 400),
        (None, ["FirstName"], 400),
    ],
)
async def test_an_edit_is_refused_for_unknown_contacts_and_fields(http, path, body, status):
    contact_id = path or build_dataset().crm_contacts[0].id
    response = await http.post(f"/_sandbox/salesforce/contacts/{contact_id}", json=body)
    assert response.status_code == status
