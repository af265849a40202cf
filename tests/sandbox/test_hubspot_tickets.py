"""The HubSpot simulator's tickets on HubSpot's contract (every answer validated against the
official SDK's ticket and v4 association models), and the real adapter's AfterSalesPort
against it (no mocks): one ticket per key, the stage left where an agent put it, a
contact's tickets newest first, the status mapping both ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hubspot_models import error as validated_error
from hubspot_models import search_request, validated
from starlette.applications import Starlette

from connectors.errors import UpstreamRejected, UpstreamThrottled
from connectors.http import UpstreamHttp
from connectors.hubspot import HubSpotCrm, HubSpotSettings
from connectors.hubspot.tickets import create_body, search_body, upsert_body
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    AfterSalesStatus,
    ExternalRef,
    System,
)
from sandbox.dataset import Dataset, build_dataset
from sandbox.hubspot import SANDBOX_ACCESS_TOKEN, create_app
from sandbox.hubspot.tickets import TicketStore

PUBLIC_URL = "http://hubspot.sandbox.test"
TICKETS = "/crm/v3/objects/tickets"
AUTH = {"Authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}"}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return build_dataset()


@pytest.fixture
def app(data: Dataset) -> Starlette:
    return create_app(data, public_url=PUBLIC_URL)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


@pytest.fixture
def crm(http: httpx.AsyncClient) -> HubSpotCrm:
    upstream = UpstreamHttp(http, service="hubspot", base_url=PUBLIC_URL)
    return HubSpotCrm(upstream, HubSpotSettings(base_url=PUBLIC_URL))


def store(app: Starlette) -> TicketStore:
    tickets: TicketStore = app.state.hubspot_tickets
    return tickets


def contact_ids(app: Starlette) -> list[str]:
    return [c.id for c in app.state.hubspot_contacts.rows[:3]]


def draft(contact: str, key: str = "og-key-1", **more: Any) -> AfterSalesDraft:
    values: dict[str, Any] = {
        "key": key,
        "customer_ref": ExternalRef(System.HUBSPOT, contact),
        "kind": AfterSalesKind.DAMAGED,
        "description": "The handle came off.",
        "channel": AfterSalesChannel.APP,
        "order_id": "gid://shopify/Order/5600007497",
        "sku": "SHO-000002",
        **more,
    }
    return AfterSalesDraft(**values)


async def agent_moves(http: httpx.AsyncClient, ticket_id: str, **properties: str) -> None:
    moved = await http.post(f"/_sandbox/hubspot/tickets/{ticket_id}", json=properties)
    assert moved.status_code == 200, moved.text


# -- the API on HubSpot's contract ----------------------------------------------------------


async def test_a_create_is_a_simple_public_object_and_the_key_taken_is_a_409(http, app):
    contact = contact_ids(app)[0]
    body = create_body(draft(contact))
    validated(body, "SimplePublicObjectInputForCreate", "tickets")
    made = await http.post(TICKETS, json=body, headers=AUTH)
    assert made.status_code == 201, made.text
    validated(made.json(), "SimplePublicObject", "tickets")
    assert made.json()["properties"]["hs_pipeline_stage"] == "1"
    (ticket,) = store(app).rows
    assert ticket.contacts == [contact]

    again = await http.post(TICKETS, json=body, headers=AUTH)
    assert again.status_code == 409
    validated_error(again.json(), "tickets")
    assert again.json()["category"] == "CONFLICT"
    assert len(store(app).rows) == 1


@pytest.mark.parametrize(
    ("change", "category", "status"),
    [
        ({"hs_pipeline_stage": ""}, "VALIDATION_ERROR", 400),  # a new ticket needs a stage
        ({"omnigate_colour": "red"}, "VALIDATION_ERROR", 400),  # no such property
        ({"hs_pipeline_stage": "9"}, "VALIDATION_ERROR", 400),  # not a stage of pipeline 0
        ({"hs_ticket_priority": "SOON"}, "VALIDATION_ERROR", 400),  # not an option
    ],
)
async def test_a_create_hubspot_would_refuse_is_refused_with_its_envelope(
    http, app, change, category, status
):
    body = create_body(draft(contact_ids(app)[0]))
    body["properties"] = {**body["properties"], **change}
    refused = await http.post(TICKETS, json=body, headers=AUTH)
    assert refused.status_code == status
    validated_error(refused.json(), "tickets")
    assert refused.json()["category"] == category
    assert store(app).rows == []


async def test_a_create_without_the_token_or_for_an_unknown_contact_is_refused(http, app):
    body = create_body(draft(contact_ids(app)[0]))
    anonymous = await http.post(TICKETS, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["category"] == "INVALID_AUTHENTICATION"
    body["associations"][0]["to"]["id"] = "1"
    unknown = await http.post(TICKETS, json=body, headers=AUTH)
    assert unknown.status_code == 400
    assert store(app).rows == []


async def test_an_upsert_finds_the_keys_ticket_and_leaves_its_stage(http, app):
    contact = contact_ids(app)[0]
    made = (await http.post(TICKETS, json=create_body(draft(contact)), headers=AUTH)).json()
    await agent_moves(http, made["id"], hs_pipeline_stage="3")
    body = upsert_body(draft(contact))
    validated(body, "BatchInputSimplePublicObjectBatchInputUpsert", "tickets")
    upserted = await http.post(f"{TICKETS}/batch/upsert", json=body, headers=AUTH)
    assert upserted.status_code == 200, upserted.text
    validated(upserted.json(), "BatchResponseSimplePublicUpsertObject", "tickets")
    (result,) = upserted.json()["results"]
    assert (result["id"], result["new"]) == (made["id"], False)
    assert store(app).get(made["id"]).values["hs_pipeline_stage"] == "3"
    assert len(store(app).rows) == 1


async def test_an_upsert_that_would_create_a_ticket_without_a_stage_is_refused(http, app):
    body = upsert_body(draft(contact_ids(app)[0], key="og-nothing-yet"))
    refused = await http.post(f"{TICKETS}/batch/upsert", json=body, headers=AUTH)
    assert refused.status_code == 400
    validated_error(refused.json(), "tickets")
    assert store(app).rows == []


@pytest.mark.parametrize(
    "inputs",
    [
        [{"idProperty": "subject", "id": "x", "properties": {}}],  # not a unique property
        [{"idProperty": "omnigate_request_key", "id": "k", "properties": {}}] * 2,  # duplicate
        [
            {"idProperty": "omnigate_request_key", "id": f"k{n}", "properties": {}}
            for n in range(101)
        ],  # past the batch cap
    ],
)
async def test_upserts_past_hubspot_s_rules_are_400s(http, inputs):
    refused = await http.post(f"{TICKETS}/batch/upsert", json={"inputs": inputs}, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["category"] == "VALIDATION_ERROR"


async def test_a_read_has_the_contacts_and_an_unknown_id_is_object_not_found(http, app):
    contact = contact_ids(app)[0]
    made = (await http.post(TICKETS, json=create_body(draft(contact)), headers=AUTH)).json()
    read = await http.get(
        f"{TICKETS}/{made['id']}",
        params={"properties": "subject,hs_pipeline_stage", "associations": "contacts"},
        headers=AUTH,
    )
    assert read.status_code == 200
    validated(read.json(), "SimplePublicObjectWithAssociations", "tickets")
    assert read.json()["associations"]["contacts"]["results"][0]["id"] == contact
    missing = await http.get(f"{TICKETS}/1", headers=AUTH)
    assert missing.status_code == 404
    validated_error(missing.json(), "tickets")
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"


async def test_closing_sets_closed_date_and_reopening_clears_it(http, app):
    made = (
        await http.post(TICKETS, json=create_body(draft(contact_ids(app)[0])), headers=AUTH)
    ).json()
    body = {"properties": {"hs_pipeline_stage": "4"}}
    validated(body, "SimplePublicObjectInput", "tickets")
    closed = await http.patch(f"{TICKETS}/{made['id']}", json=body, headers=AUTH)
    assert closed.status_code == 200
    validated(closed.json(), "SimplePublicObject", "tickets")
    assert store(app).get(made["id"]).values.get("closed_date")
    reopened = {"properties": {"hs_pipeline_stage": "2"}}
    await http.patch(f"{TICKETS}/{made['id']}", json=reopened, headers=AUTH)
    assert "closed_date" not in store(app).get(made["id"]).values
    gone = await http.patch(f"{TICKETS}/1", json=body, headers=AUTH)
    assert gone.status_code == 404


async def test_the_default_association_is_idempotent_and_a_v4_batch_response(http, app):
    first, second = contact_ids(app)[:2]
    made = (await http.post(TICKETS, json=create_body(draft(first)), headers=AUTH)).json()
    path = f"/crm/v4/objects/ticket/{made['id']}/associations/default/contact/{second}"
    for _ in range(2):
        put = await http.put(path, headers=AUTH)
        assert put.status_code == 200
        validated(put.json(), "BatchResponsePublicDefaultAssociation", "associations")
    assert store(app).get(made["id"]).contacts == [first, second]


async def test_a_contacts_tickets_page_newest_first_with_after(http, app):
    contact, other = contact_ids(app)[:2]
    for n in range(3):
        await http.post(TICKETS, json=create_body(draft(contact, key=f"k{n}")), headers=AUTH)
    await http.post(TICKETS, json=create_body(draft(other, key="theirs")), headers=AUTH)
    body = search_body(contact, 2, None, None)
    search_request(body, "tickets")
    first = await http.post(f"{TICKETS}/search", json=body, headers=AUTH)
    assert first.status_code == 200
    page = first.json()
    validated(page, "CollectionResponseWithTotalSimplePublicObjectForwardPaging", "tickets")
    assert page["total"] == 3
    rest = await http.post(
        f"{TICKETS}/search", json={**body, "after": page["paging"]["next"]["after"]}, headers=AUTH
    )
    found = page["results"] + rest.json()["results"]
    keys = [t["properties"]["omnigate_request_key"] for t in found]
    created = {t.values["omnigate_request_key"]: (t.created, int(t.id)) for t in store(app).rows}
    assert keys == sorted(["k0", "k1", "k2"], key=lambda k: created[k], reverse=True)
    two_sorts = {**body, "sorts": body["sorts"] * 2}
    assert (await http.post(f"{TICKETS}/search", json=two_sorts, headers=AUTH)).status_code == 400


# -- the adapter against it -----------------------------------------------------------------


async def test_concurrent_and_late_opens_make_one_ticket_left_where_the_agent_put_it(
    crm, http, app
):
    contact = contact_ids(app)[0]
    opened = await asyncio.gather(*(crm.open_request(draft(contact)) for _ in range(3)))
    assert len({record.ref.id for record, _ in opened}) == 1
    assert sorted(created for _, created in opened) == [False, False, True]
    (ticket,) = store(app).rows
    assert ticket.contacts == [contact]
    record = opened[0][0]
    assert (record.kind, record.channel, record.status) == (
        AfterSalesKind.DAMAGED,
        AfterSalesChannel.APP,
        AfterSalesStatus.NEW,
    )
    assert record.customer_ref == ExternalRef(System.HUBSPOT, contact)

    await agent_moves(http, ticket.id, hs_pipeline_stage="2", hs_ticket_priority="HIGH")
    late, created = await crm.open_request(draft(contact))
    assert (late.ref.id, created, late.status) == (ticket.id, False, AfterSalesStatus.ESCALATED)
    assert len(store(app).rows) == 1


async def test_statuses_map_to_stages_and_back(crm, app):
    contact = contact_ids(app)[0]
    record, _ = await crm.open_request(draft(contact))
    ticket = store(app).get(record.ref.id)
    expected = [
        (AfterSalesStatus.ESCALATED, "3", "HIGH"),
        (AfterSalesStatus.WORKING, "3", "MEDIUM"),
        (AfterSalesStatus.CLOSED, "4", "MEDIUM"),
        (AfterSalesStatus.NEW, "1", "MEDIUM"),
    ]
    for status, stage, priority in expected:
        moved = await crm.set_request_status(record.ref.id, status)
        assert moved is not None
        assert moved.status is status
        assert (ticket.values["hs_pipeline_stage"], ticket.values.get("hs_ticket_priority")) == (
            stage,
            priority,
        )
        assert (moved.closed_at is not None) == (status is AfterSalesStatus.CLOSED)
    assert await crm.set_request_status("1", AfterSalesStatus.CLOSED) is None
    assert await crm.set_request_status("not-an-id", AfterSalesStatus.CLOSED) is None
    assert await crm.request("1") is None


async def test_a_contacts_requests_are_newest_first_within_the_bound(crm, app):
    contact, other = contact_ids(app)[:2]
    made = [(await crm.open_request(draft(contact, key=f"og-{n}")))[0] for n in range(5)]
    await crm.open_request(draft(other, key="og-other"))
    found = await crm.requests_of([contact], 3)
    newest = sorted(made, key=lambda r: (r.created_at, int(r.ref.id)), reverse=True)
    assert [r.ref.id for r in found] == [r.ref.id for r in newest[:3]]
    before = await crm.requests_of([contact], 10, created_before=newest[2].created_at)
    assert {r.ref.id for r in before} >= {r.ref.id for r in newest[2:]}
    assert all(r.created_at <= newest[2].created_at for r in before)
    assert await crm.requests_of(["not-a-hubspot-id"], 10) == []


async def test_a_create_hubspot_refuses_is_rejected_and_makes_no_ticket(crm, app):
    with pytest.raises(UpstreamRejected):
        await crm.open_request(draft("1"))  # no such contact: the association is refused
    assert store(app).rows == []


async def test_a_throttled_open_makes_no_ticket_and_its_retry_makes_one(crm, http, app):
    contact = contact_ids(app)[0]
    scripted = await http.post(
        "/_sandbox/hubspot/rate-limits",
        json={"policyName": "TEN_SECONDLY_ROLLING", "requests": 1, "retryAfter": "1"},
    )
    assert scripted.status_code == 200
    with pytest.raises(UpstreamThrottled) as throttled:
        await crm.open_request(draft(contact))
    assert throttled.value.retry_after == 1.0
    assert store(app).rows == []
    record, created = await crm.open_request(draft(contact))
    assert created is True
    assert [t.id for t in store(app).rows] == [record.ref.id]
