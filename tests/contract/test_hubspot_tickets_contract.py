"""What the HubSpot adapter sends for after-sales requests (each body validated against the
official SDK's ticket models) and how it reads HubSpot's answers: create, then upsert by the
key on a 409, the v4 default association where an upsert made the ticket, the search of a
contact's tickets, the read by id and the stage PATCH."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from hubspot_models import search_request, validated

from connectors.check import CheckFailed
from connectors.errors import UpstreamRejected
from connectors.http import UpstreamHttp
from connectors.hubspot import HubSpotCrm, HubSpotSettings
from connectors.hubspot.check import check_hubspot
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    AfterSalesStatus,
    ExternalRef,
    System,
)

API = "https://api.hubapi.com"
TICKETS = f"{API}/crm/v3/objects/tickets"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
CONTACT = "101"
DRAFT = AfterSalesDraft(
    key="og-0123456789abcdef",
    customer_ref=ExternalRef(System.HUBSPOT, CONTACT),
    kind=AfterSalesKind.MISSING,
    description="Only one of the two arrived.",
    channel=AfterSalesChannel.STORE,
    order_id="gid://shopify/Order/5600007497",
)


def ticket(ticket_id: str, created: str = "2026-01-05T10:00:00.000Z", **values: str) -> Any:
    properties = {
        "subject": "Missing - order gid://shopify/Order/5600007497",
        "content": "Only one of the two arrived.",
        "hs_pipeline": "0",
        "hs_pipeline_stage": "1",
        "createdate": created,
        "hs_lastmodifieddate": created,
        "hs_object_id": ticket_id,
        "omnigate_request_key": DRAFT.key,
        "omnigate_request_kind": "MISSING",
        "omnigate_channel": "STORE",
        "omnigate_order_id": "gid://shopify/Order/5600007497",
        **values,
    }
    return {
        "id": ticket_id,
        "properties": properties,
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
    }


def with_contact(answer: dict[str, Any], contact: str = CONTACT) -> dict[str, Any]:
    answer = {
        **answer,
        "associations": {"contacts": {"results": [{"id": contact, "type": "ticket_to_contact"}]}},
    }
    validated(answer, "SimplePublicObjectWithAssociations", "tickets")
    return answer


def hubspot_error(status: int, category: str, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"status": "error", "message": message, "correlationId": "c0", "category": category},
    )


def upserted(ticket_id: str, new: bool) -> httpx.Response:
    body = {
        "status": "COMPLETE",
        "results": [{**ticket(ticket_id), "new": new}],
        "startedAt": "2026-01-05T10:00:00.000Z",
        "completedAt": "2026-01-05T10:00:00.040Z",
    }
    validated(body, "BatchResponseSimplePublicUpsertObject", "tickets")
    return httpx.Response(200, json=body)


def sent(route: respx.Route, call: int = 0) -> dict[str, Any]:
    request = route.calls[call].request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body: dict[str, Any] = json.loads(request.content)
    return body


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def crm() -> AsyncIterator[HubSpotCrm]:
    async with httpx.AsyncClient() as client:
        upstream = UpstreamHttp(client, service="hubspot", base_url=API)
        yield HubSpotCrm(upstream, HubSpotSettings(base_url=API, access_token=TOKEN))


async def test_a_new_request_is_one_create_in_the_first_stage_with_its_contact(api, crm):
    create = api.post(TICKETS).mock(return_value=httpx.Response(201, json=ticket("901")))
    upsert = api.post(f"{TICKETS}/batch/upsert")
    record, created = await crm.open_request(DRAFT)
    body = sent(create)
    validated(body, "SimplePublicObjectInputForCreate", "tickets")
    assert body["properties"]["hs_pipeline_stage"] == "1"
    assert body["properties"]["omnigate_request_key"] == DRAFT.key
    assert "omnigate_sku" not in body["properties"]  # nothing sent for what is not there
    assert body["associations"] == [
        {
            "to": {"id": CONTACT},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 16}],
        }
    ]
    assert created is True
    assert (record.ref.id, record.number, record.status) == ("901", "901", AfterSalesStatus.NEW)
    assert (record.kind, record.channel, record.key) == (
        AfterSalesKind.MISSING,
        AfterSalesChannel.STORE,
        DRAFT.key,
    )
    assert record.customer_ref == ExternalRef(System.HUBSPOT, CONTACT)
    assert not upsert.called


async def test_a_key_hubspot_holds_is_upserted_without_a_stage_and_read_back(api, crm):
    api.post(TICKETS).mock(return_value=hubspot_error(409, "CONFLICT", "Existing ID: 901"))
    upsert = api.post(f"{TICKETS}/batch/upsert").mock(return_value=upserted("901", new=False))
    read = api.get(f"{TICKETS}/901").mock(
        return_value=httpx.Response(
            200, json=with_contact(ticket("901", hs_pipeline_stage="3", hs_ticket_priority="HIGH"))
        )
    )
    associate = api.put(url__startswith=f"{API}/crm/v4/")
    record, created = await crm.open_request(DRAFT)
    body = sent(upsert)
    validated(body, "BatchInputSimplePublicObjectBatchInputUpsert", "tickets")
    [item] = body["inputs"]
    assert (item["idProperty"], item["id"]) == ("omnigate_request_key", DRAFT.key)
    assert "hs_pipeline_stage" not in item["properties"]
    assert "hs_pipeline" not in item["properties"]
    assert read.calls[0].request.url.params["associations"] == "contacts"
    assert (created, record.status) == (False, AfterSalesStatus.ESCALATED)
    assert not associate.called


async def test_a_ticket_the_upsert_made_is_associated_to_the_contact(api, crm):
    api.post(TICKETS).mock(return_value=hubspot_error(409, "CONFLICT", "taken"))
    api.post(f"{TICKETS}/batch/upsert").mock(return_value=upserted("902", new=True))
    associate = api.put(
        f"{API}/crm/v4/objects/ticket/902/associations/default/contact/{CONTACT}"
    ).mock(return_value=httpx.Response(200, json={"status": "COMPLETE", "results": []}))
    api.get(f"{TICKETS}/902").mock(
        return_value=httpx.Response(200, json=with_contact(ticket("902")))
    )
    record, created = await crm.open_request(DRAFT)
    assert associate.call_count == 1
    assert (record.ref.id, created) == ("902", True)


async def test_a_create_hubspot_refuses_is_rejected_and_nothing_is_upserted(api, crm):
    api.post(TICKETS).mock(
        return_value=hubspot_error(
            400, "VALIDATION_ERROR", 'Property "omnigate_sku" does not exist'
        )
    )
    upsert = api.post(f"{TICKETS}/batch/upsert")
    with pytest.raises(UpstreamRejected) as rejected:
        await crm.open_request(DRAFT)
    assert "VALIDATION_ERROR" in rejected.value.detail
    assert not upsert.called


async def test_a_contacts_requests_are_searched_newest_first_and_paged_to_the_bound(api, crm):
    pages = {
        None: (["905", "904"], "2"),
        "2": (["903"], None),
    }
    created = {"905": "05", "904": "04", "903": "03", "990": "06"}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        search_request(body, "tickets")
        [filters] = [g["filters"] for g in body["filterGroups"]]
        contact = filters[0]["value"]
        if contact == "202":
            ids, after = ["990"], None
        else:
            ids, after = pages[body.get("after")]
        page: dict[str, Any] = {
            "total": 3,
            "results": [ticket(i, f"2026-01-{created[i]}T10:00:00.000Z") for i in ids],
        }
        if after is not None:
            page["paging"] = {"next": {"after": after}}
        validated(page, "CollectionResponseWithTotalSimplePublicObjectForwardPaging", "tickets")
        return httpx.Response(200, json=page)

    route = api.post(f"{TICKETS}/search").mock(side_effect=answer)
    found = await crm.requests_of([CONTACT, "202", CONTACT, "0035g00000ZZZZZZZZ"], 3)
    assert [r.ref.id for r in found] == ["990", "905", "904"]
    assert [r.customer_ref.id for r in found if r.customer_ref] == ["202", CONTACT, CONTACT]
    first = sent(route)
    assert first["sorts"] == [{"propertyName": "createdate", "direction": "DESCENDING"}]
    assert first["filterGroups"][0]["filters"][0] == {
        "propertyName": "associations.contact",
        "operator": "EQ",
        "value": CONTACT,
    }
    assert route.call_count == 3  # 101's two pages, 202's one; the Salesforce id not sent


async def test_an_unknown_id_is_none_and_never_patched(api, crm):
    api.get(f"{TICKETS}/903").mock(
        return_value=hubspot_error(404, "OBJECT_NOT_FOUND", "Object not found.")
    )
    patch = api.patch(f"{TICKETS}/903")
    assert await crm.request("903") is None
    assert await crm.set_request_status("903", AfterSalesStatus.CLOSED) is None
    assert await crm.set_request_status("../contacts/1", AfterSalesStatus.CLOSED) is None
    assert not patch.called


@pytest.mark.parametrize(
    ("status", "priority", "properties"),
    [
        (
            AfterSalesStatus.WORKING,
            "HIGH",
            {"hs_pipeline_stage": "3", "hs_ticket_priority": "MEDIUM"},
        ),
        (AfterSalesStatus.WORKING, "LOW", {"hs_pipeline_stage": "3"}),
        (
            AfterSalesStatus.ESCALATED,
            "LOW",
            {"hs_pipeline_stage": "3", "hs_ticket_priority": "HIGH"},
        ),
        (AfterSalesStatus.CLOSED, "HIGH", {"hs_pipeline_stage": "4"}),
        (AfterSalesStatus.NEW, None, {"hs_pipeline_stage": "1"}),
    ],
)
async def test_a_status_is_a_patch_of_the_stage(api, crm, status, priority, properties):
    current = ticket(
        "903", hs_pipeline_stage="2", **({"hs_ticket_priority": priority} if priority else {})
    )
    api.get(f"{TICKETS}/903").mock(
        side_effect=[
            httpx.Response(200, json=with_contact(current)),
            httpx.Response(200, json=with_contact(ticket("903", **properties))),
        ]
    )
    patch = api.patch(f"{TICKETS}/903").mock(
        return_value=httpx.Response(200, json=ticket("903", **properties))
    )
    moved = await crm.set_request_status("903", status)
    body = sent(patch)
    validated(body, "SimplePublicObjectInput", "tickets")
    assert body == {"properties": {"hs_pipeline": "0", **properties}}
    assert moved is not None
    assert moved.status is status


async def test_the_check_names_the_ticket_properties_a_portal_lacks(api):
    api.post(f"{API}/crm/v3/objects/contacts/search").mock(
        return_value=httpx.Response(200, json={"total": 0, "results": []})
    )
    search = api.post(f"{TICKETS}/search").mock(
        return_value=hubspot_error(
            400,
            "VALIDATION_ERROR",
            "There was a problem with the request: property 'omnigate_request_key' does not exist",
        )
    )
    async with httpx.AsyncClient() as client:
        upstream = UpstreamHttp(client, service="hubspot", base_url=API)
        with pytest.raises(CheckFailed) as failed:
            await check_hubspot(upstream, HubSpotSettings(base_url=API, access_token=TOKEN))
    body = sent(search)
    search_request(body, "tickets")
    assert [g["filters"][0]["propertyName"] for g in body["filterGroups"]] == [
        "omnigate_request_key",
        "omnigate_request_kind",
        "omnigate_channel",
        "omnigate_order_id",
        "omnigate_sku",
    ]
    assert "omnigate_request_key" in str(failed.value)
    assert "lacks ticket properties" in str(failed.value)
