"""The simulator's Case sObject on the REST API's own contract: create (201), read with
`attributes`, update (204), upsert by the external-id field (201 then 200, one Case), the
error array for bad fields, picklist values and unknown ids, SOQL over Case, and the
control route an agent's status change goes through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.http import UpstreamHttp
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    AfterSalesStatus,
    ExternalRef,
    System,
)
from connectors.salesforce import SalesforceCrm, SalesforceSettings
from sandbox.dataset import build_dataset
from sandbox.salesforce import create_app

PUBLIC_URL = "http://salesforce.sandbox.test"
DATA = "/services/data/v67.0"
CASES = f"{DATA}/sobjects/Case"
NOW = datetime(2026, 11, 24, 9, 30, 15, 654321, tzinfo=UTC)
KEY_FIELD = "Omnigate_Request_Key__c"


@pytest.fixture
def app() -> Starlette:
    return create_app(build_dataset(), public_url=PUBLIC_URL, clock=lambda: NOW)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        token = await client.post(
            "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
            },
        )
        client.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


@pytest.fixture
def contact_id() -> str:
    return build_dataset().crm_contacts[0].id


def body(contact_id: str, **more: Any) -> dict[str, Any]:
    return {
        "ContactId": contact_id,
        "Subject": "Damaged item",
        "Description": "The mug arrived broken.",
        "Type": "Damaged Item",
        "Origin": "App",
        **more,
    }


async def test_a_case_is_created_read_and_updated(http, contact_id):
    created = await http.post(CASES, json=body(contact_id))
    assert created.status_code == 201
    answer = created.json()
    assert answer["success"] is True
    assert answer["errors"] == []
    case_id = answer["id"]
    assert case_id.startswith("500")
    assert len(case_id) == 18

    record = (await http.get(f"{CASES}/{case_id}")).json()
    assert record["attributes"] == {"type": "Case", "url": f"{CASES}/{case_id}"}
    assert record["CaseNumber"] == "00001001"
    assert record["Status"] == "New"
    assert record["Priority"] == "Medium"
    assert record["IsClosed"] is False
    assert record["ClosedDate"] is None
    assert record["CreatedDate"] == "2026-11-24T09:30:15.000+0000"
    assert record["ContactId"] == contact_id

    updated = await http.patch(f"{CASES}/{case_id}", json={"Status": "Closed"})
    assert updated.status_code == 204
    assert updated.content == b""
    closed = (await http.get(f"{CASES}/{case_id}", params={"fields": "Status,IsClosed"})).json()
    assert closed == {
        "attributes": {"type": "Case", "url": f"{CASES}/{case_id}"},
        "Status": "Closed",
        "IsClosed": True,
    }
    # the 15-character id finds the same record
    assert (await http.get(f"{CASES}/{case_id[:15]}")).json()["Id"] == case_id


async def test_an_upsert_by_external_id_creates_once_then_updates(http, app, contact_id):
    url = f"{CASES}/{KEY_FIELD}/request-1"
    first = await http.patch(url, json=body(contact_id))
    assert first.status_code == 201
    assert first.json()["created"] is True
    again = await http.patch(url, json=body(contact_id))
    assert again.status_code == 200
    assert again.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert len(app.state.salesforce_cases.rows) == 1
    found = (await http.get(url)).json()
    assert found["Id"] == first.json()["id"]
    assert found[KEY_FIELD] == "request-1"
    # before API 46.0 an upsert that updates answers 204 without a body
    old = await http.patch(url.replace("v67.0", "v45.0"), json={"Priority": "High"})
    assert old.status_code == 204


@pytest.mark.parametrize(
    ("change", "status", "code", "fields"),
    [
        ({"Colour__c": "red"}, 400, "INVALID_FIELD", None),
        ({"CaseNumber": "1"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", ["CaseNumber"]),
        ({"Status": "Lost"}, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
        ({"Subject": "x" * 256}, 400, "STRING_TOO_LONG", ["Subject"]),
        ({"ContactId": "not-an-id"}, 400, "MALFORMED_ID", ["ContactId"]),
        ({"ContactId": "003000000000000AAA"}, 400, "FIELD_INTEGRITY_EXCEPTION", ["ContactId"]),
        ({"Subject": 7}, 400, "JSON_PARSER_ERROR", None),
    ],
)
async def test_a_bad_body_is_refused_whole_with_the_error_array(
    http, app, contact_id, change, status, code, fields
):
    response = await http.post(CASES, json=body(contact_id, **change))
    assert response.status_code == status
    (error,) = response.json()
    assert error["errorCode"] == code
    assert error.get("fields") == fields
    assert app.state.salesforce_cases.rows == []


async def test_unknown_ids_and_fields_are_not_found(http, contact_id):
    for response in (
        await http.get(f"{CASES}/500000000000000AAA"),
        await http.patch(f"{CASES}/500000000000000AAA", json={"Status": "Working"}),
        await http.patch(f"{CASES}/Subject/x", json=body(contact_id)),
        await http.get(f"{DATA}/sobjects/Lead/00Q000000000000AAA"),
    ):
        assert response.status_code == 404
        assert response.json()[0]["errorCode"] == "NOT_FOUND"


async def test_soql_lists_a_contacts_cases_newest_first(http, contact_id):
    for key in ("a", "b"):
        await http.patch(f"{CASES}/{KEY_FIELD}/{key}", json=body(contact_id))
    other = build_dataset().crm_contacts[1].id
    await http.patch(f"{CASES}/{KEY_FIELD}/c", json=body(other))
    soql = (
        f"SELECT Id, {KEY_FIELD}, Status FROM Case WHERE ContactId IN ('{contact_id}') "
        "ORDER BY CreatedDate DESC, CaseNumber DESC"
    )
    page = (await http.get(f"{DATA}/query", params={"q": soql})).json()
    assert page["totalSize"] == 2
    assert [r[KEY_FIELD] for r in page["records"]] == ["b", "a"]
    assert page["records"][0]["attributes"]["type"] == "Case"
    bad = await http.get(f"{DATA}/query", params={"q": "SELECT Colour__c FROM Case"})
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALID_FIELD"


async def test_an_agent_works_a_case_through_the_control_route(http, app, contact_id):
    case_id = (await http.post(CASES, json=body(contact_id))).json()["id"]
    worked = await http.post(f"/_sandbox/salesforce/cases/{case_id}", json={"Status": "Working"})
    assert worked.status_code == 200
    assert worked.json()["Status"] == "Working"
    refused = await http.post(f"/_sandbox/salesforce/cases/{case_id}", json={"Status": "Lost"})
    assert refused.status_code == 400
    listed = (await http.get("/_sandbox/salesforce/cases")).json()
    assert [c["Id"] for c in listed] == [case_id]
    assert app.state.calls.get(f"POST /_sandbox/salesforce/cases/{case_id}") is None


async def test_the_adapter_opens_one_case_per_key_and_reads_an_agents_status(http, app):
    contact = build_dataset().crm_contacts[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        upstream = UpstreamHttp(client, service="salesforce", base_url=PUBLIC_URL)
        crm = SalesforceCrm(upstream, SalesforceSettings(login_url=PUBLIC_URL))
        draft = AfterSalesDraft(
            key="k-1",
            customer_ref=ExternalRef(System.SALESFORCE, contact.id),
            kind=AfterSalesKind.MISSING,
            description="One of two mugs missing.",
            channel=AfterSalesChannel.STORE,
        )
        first, created = await crm.open_request(draft)
        again, created_again = await crm.open_request(draft)
        assert (created, created_again) == (True, False)
        assert again.ref == first.ref
        assert len(app.state.salesforce_cases.rows) == 1
        await http.post(f"/_sandbox/salesforce/cases/{first.ref.id}", json={"Status": "Escalated"})
        (listed,) = await crm.requests_of([contact.id], 10)
        assert listed.status is AfterSalesStatus.ESCALATED
        assert listed.channel is AfterSalesChannel.STORE
        closed = await crm.set_request_status(first.ref.id, AfterSalesStatus.CLOSED)
        assert closed is not None
        assert closed.closed_at == NOW.replace(microsecond=0)


async def test_case_describe_answers_what_the_api_may_set_and_the_picklists(http):
    described = await http.get(f"{CASES}/describe")
    assert described.status_code == 200
    fields = {field["name"]: field for field in described.json()["fields"]}
    key = fields["Omnigate_Request_Key__c"]
    assert (key["externalId"], key["unique"], key["custom"], key["length"]) == (
        True,
        True,
        True,
        255,
    )
    assert (fields["CaseNumber"]["createable"], fields["CaseNumber"]["autoNumber"]) == (False, True)
    assert fields["Status"]["restrictedPicklist"] is True
    assert [v["value"] for v in fields["Status"]["picklistValues"] if v["defaultValue"]] == ["New"]
    # a record is not read by the name "describe", and another object is not described
    assert (await http.get(f"{DATA}/sobjects/Lead/describe")).json()[0]["errorCode"] == "NOT_FOUND"
    del http.headers["authorization"]
    assert (await http.get(f"{CASES}/describe")).status_code == 401
