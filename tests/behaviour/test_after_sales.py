"""After-sales requests every vendor set must keep in its CRM (Salesforce Cases, HubSpot
tickets; docs/after-sales.md): a customer's request seen by staff, an agent's change in the
CRM seen by her, exactly one request per key under concurrency, a late retry, a crash
between the CRM and MongoDB and an answer lost on the way back; the CRM down: UPSTREAM,
nothing opened, the retry opens it; refusals cost the CRM nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cart_api import Device
from fault_proxy import Fault, FaultProxy, behind_proxies, proxies_in_front_of
from pymongo import AsyncMongoClient

from behaviour.retailer import Retailer

OPEN = """
mutation ($input: AfterSalesRequestInput!, $key: String!) {
  afterSalesRequestOpen(input: $input, idempotencyKey: $key) {
    replayed
    request { id number kind status description channel sku createdAt closedAt }
    userErrors { field message code }
  }
}
"""
SET_STATUS = """
mutation ($id: ID!, $status: AfterSalesStatus!) {
  afterSalesRequestSetStatus(id: $id, status: $status) {
    request { id status closedAt }
    userErrors { field code }
  }
}
"""
ENTRIES = """
  nodes { __typename ... on TimelineAfterSalesRequest { request { id kind status sku } } }
  missingSources
"""
MY_TIMELINE = f"query {{ me {{ timeline(first: 50) {{ {ENTRIES} }} }} }}"
HER_TIMELINE = f"query ($id: ID!) {{ customer(id: $id) {{ timeline(first: 50) {{ {ENTRIES} }} }} }}"
A_PRODUCT = "{ products(first: 1) { edges { node { sku } } } }"
# what an agent does in each CRM to put a request in a status
AGENT = {
    "salesforce": {
        "WORKING": {"Status": "Working"},
        "ESCALATED": {"Status": "Escalated"},
    },
    "hubspot": {
        "WORKING": {"hs_pipeline_stage": "2"},
        "ESCALATED": {"hs_pipeline_stage": "3", "hs_ticket_priority": "HIGH"},
    },
}
CONTROL = {"salesforce": "/_sandbox/salesforce/cases/", "hubspot": "/_sandbox/hubspot/tickets/"}


def requests_in_crm(retailer: Retailer, contact_id: str) -> list[str]:
    """The ids of the requests the set's CRM simulator holds for a contact."""
    state = retailer.sandbox.apps[retailer.crm.vendor].app.state
    if retailer.crm.vendor == "salesforce":
        rows = state.salesforce_cases.rows
        return [row.id for row in rows if row.values.get("ContactId") == contact_id]
    return [ticket.id for ticket in state.hubspot_tickets.of_contact(contact_id)]


async def agent_sets(retailer: Retailer, request_id: str, status: str) -> None:
    vendor = retailer.crm.vendor
    async with httpx.AsyncClient(base_url=retailer.sandbox.url(vendor)) as client:
        moved = await client.post(CONTROL[vendor] + request_id, json=AGENT[vendor][status])
    assert moved.status_code == 200, moved.text


async def a_sku(retailer: Retailer) -> str:
    body = await retailer.client.query(A_PRODUCT)
    sku: str = body["data"]["products"]["edges"][0]["node"]["sku"]
    return sku


def requests_on(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node["request"]
        for node in timeline["nodes"]
        if node["__typename"] == "TimelineAfterSalesRequest"
    ]


def refusal(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_a_customers_request_is_seen_by_staff_and_an_agents_change_by_her(
    retailer: Retailer,
):
    contact = retailer.buyer(8)
    crm_id = retailer.crm.id_of(contact)
    her = retailer.shopper(contact)
    staff = Device(retailer.client, retailer.staff_headers())
    asked = {
        "kind": "QUESTION",
        "description": "Is it dishwasher safe?",
        "sku": await a_sku(retailer),
    }
    opened = (await her.run(OPEN, input=asked, key=retailer.key("as-seen")))[
        "afterSalesRequestOpen"
    ]
    assert opened["userErrors"] == []
    assert opened["replayed"] is False
    request = opened["request"]
    assert (request["kind"], request["status"], request["channel"]) == ("QUESTION", "NEW", "APP")
    assert requests_in_crm(retailer, crm_id) == [request["id"]]

    seen = (await staff.run(HER_TIMELINE, id=crm_id))["customer"]["timeline"]
    assert [(r["id"], r["status"]) for r in requests_on(seen)] == [(request["id"], "NEW")]

    await agent_sets(retailer, request["id"], "WORKING")
    mine = (await her.run(MY_TIMELINE))["me"]["timeline"]
    assert [(r["id"], r["status"]) for r in requests_on(mine)] == [(request["id"], "WORKING")]

    closed = await staff.run(SET_STATUS, id=request["id"], status="CLOSED")
    assert closed["afterSalesRequestSetStatus"]["request"]["closedAt"] is not None
    mine = (await her.run(MY_TIMELINE))["me"]["timeline"]
    assert [r["status"] for r in requests_on(mine)] == ["CLOSED"]


async def test_concurrent_opens_a_late_retry_and_a_crash_make_one_request(retailer: Retailer):
    contact = retailer.buyer(9)
    crm_id = retailer.crm.id_of(contact)
    her = retailer.shopper(contact)
    key = retailer.key("as-once")
    asked = {"kind": "DAMAGED", "description": "Cracked on arrival.", "sku": await a_sku(retailer)}
    answers = await asyncio.gather(*(her.run(OPEN, input=asked, key=key) for _ in range(3)))
    opened = [a["afterSalesRequestOpen"] for a in answers]
    ids = {o["request"]["id"] for o in opened}
    assert len(ids) == 1
    assert sorted(o["replayed"] for o in opened) == [False, True, True]
    (request_id,) = ids

    # an agent works it; a late retry answers it as it is now and does not move it back
    await agent_sets(retailer, request_id, "ESCALATED")
    late = (await her.run(OPEN, input=asked, key=key))["afterSalesRequestOpen"]
    assert (late["replayed"], late["request"]["status"]) == (True, "ESCALATED")

    # the crash: the request was made, the gateway died before MongoDB heard its id
    settings = retailer.settings
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        claims = client[settings.mongodb_database]["after_sales_keys"]
        forgot = await claims.update_many({"customer_id": crm_id}, {"$set": {"request_id": None}})
    finally:
        await client.close()
    assert forgot.modified_count == 1
    after_crash = (await her.run(OPEN, input=asked, key=key))["afterSalesRequestOpen"]
    assert after_crash["replayed"] is True
    assert (after_crash["request"]["id"], after_crash["request"]["status"]) == (
        request_id,
        "ESCALATED",
    )
    assert requests_in_crm(retailer, crm_id) == [request_id]


@pytest.fixture
def crm_proxy(retailer: Retailer) -> Iterator[FaultProxy]:
    vendor = retailer.crm.vendor
    with proxies_in_front_of({vendor: retailer.sandbox.url(vendor)}) as proxies:
        yield proxies[vendor]


async def test_the_crm_down_is_upstream_with_no_request_and_the_retry_opens_it(
    retailer: Retailer, crm_proxy: FaultProxy
):
    contact = retailer.buyer(10)
    crm_id = retailer.crm.id_of(contact)
    vendor = retailer.crm.vendor
    asked = {"kind": "QUESTION", "description": "When is it back?", "sku": await a_sku(retailer)}
    key = retailer.key("as-down")
    async with retailer.other_gateway(behind_proxies(retailer.settings, {vendor: crm_proxy})) as gw:
        her = Device(gw, retailer.shopper(contact).headers)
        staff = Device(gw, retailer.staff_headers())
        await her.run("{ me { id } }")  # her profile read (and cached) while the CRM answers
        crm_proxy.set(Fault.REFUSE)
        try:
            failed = (await her.run(OPEN, input=asked, key=key))["afterSalesRequestOpen"]
            timeline = await staff.raw(HER_TIMELINE, id=crm_id)
        finally:
            crm_proxy.set(Fault.PASS)
        assert failed["request"] is None
        assert [(e["code"], e["field"]) for e in failed["userErrors"]] == [("UPSTREAM", None)]
        assert "retry with the same key" in failed["userErrors"][0]["message"]
        assert requests_in_crm(retailer, crm_id) == []
        assert timeline["data"]["customer"]["timeline"]["missingSources"] == ["AFTER_SALES"]
        assert [e["extensions"]["service"] for e in timeline["errors"]] == [vendor]

        retried = (await her.run(OPEN, input=asked, key=key))["afterSalesRequestOpen"]
        assert retried["userErrors"] == []
        assert retried["replayed"] is False
        assert requests_in_crm(retailer, crm_id) == [retried["request"]["id"]]


async def test_an_answer_lost_after_the_crm_made_the_request_is_one_request(
    retailer: Retailer, crm_proxy: FaultProxy
):
    contact = retailer.buyer(11)
    crm_id = retailer.crm.id_of(contact)
    vendor = retailer.crm.vendor
    asked = {"kind": "QUESTION", "description": "Spare parts?", "sku": await a_sku(retailer)}
    key = retailer.key("as-lost")
    async with retailer.other_gateway(behind_proxies(retailer.settings, {vendor: crm_proxy})) as gw:
        her = Device(gw, retailer.shopper(contact).headers)
        await her.run("{ me { id } }")
        # the write reaches the CRM, which makes the request; half its answer comes back
        crm_proxy.reset_counts()
        crm_proxy.set(Fault.TRUNCATED, times=1)
        try:
            first = (await her.run(OPEN, input=asked, key=key))["afterSalesRequestOpen"]
        finally:
            crm_proxy.set(Fault.PASS)
        assert crm_proxy.seen(Fault.TRUNCATED) == 1
        retried = (await her.run(OPEN, input=asked, key=key))["afterSalesRequestOpen"]
    made = requests_in_crm(retailer, crm_id)
    assert len(made) == 1
    assert (retried["request"]["id"], retried["replayed"]) == (made[0], True)
    # the first answer: the request (the policy resent the idempotent write), or UPSTREAM
    assert first["request"] is None or first["request"]["id"] == made[0]


async def test_refusals_are_decided_before_the_crm_is_called(retailer: Retailer):
    contact, other = retailer.buyer(12), retailer.buyer(13)
    her = retailer.shopper(contact)
    staff = Device(retailer.client, retailer.staff_headers())
    store_id = retailer.dataset.stores[0].id
    kiosk = Device(retailer.client, {"authorization": f"Bearer {retailer.tokens.kiosk(store_id)}"})
    asked = {"kind": "QUESTION", "description": "?", "sku": await a_sku(retailer)}
    key = retailer.key("as-refused")
    retailer.sandbox.reset_calls()
    assert refusal(await kiosk.raw(OPEN, input=asked, key=key)) == ["FORBIDDEN"]
    someone_else = {**asked, "customerId": retailer.crm.id_of(other)}
    assert refusal(await her.raw(OPEN, input=someone_else, key=key)) == ["FORBIDDEN"]
    status = await her.raw(SET_STATUS, id="1234567", status="CLOSED")
    assert refusal(status) == ["FORBIDDEN"]
    for change, code in [
        ({"description": "   "}, "INVALID_DESCRIPTION"),
        ({"sku": None}, "NOTHING_REFERENCED"),
        ({"sku": "not a sku!"}, "INVALID_SKU"),
    ]:
        body = await her.run(OPEN, input={**asked, **change}, key=key)
        assert [e["code"] for e in body["afterSalesRequestOpen"]["userErrors"]] == [code]
    unknown = await staff.run(SET_STATUS, id="1234567", status="UNKNOWN")
    assert [e["code"] for e in unknown["afterSalesRequestSetStatus"]["userErrors"]] == [
        "INVALID_STATUS"
    ]
    assert retailer.sandbox.total_calls(retailer.crm.vendor) == 0
    assert requests_in_crm(retailer, retailer.crm.id_of(contact)) == []
