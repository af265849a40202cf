"""After-sales requests end to end, over loopback against the sandbox and a real mongod: a
customer opens one about her order in the app, staff see it on her timeline, an agent works
the Case in Salesforce and she sees the new status; exactly one Case per key under retries,
concurrency and a crash between the CRM and MongoDB; another customer's order NOT_FOUND;
staff actions audited; bad input with stable codes; Salesforce down: a clear error, no
Case, and the timeline partial. docs/after-sales.md describes what each test holds."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from cart_api import Device, kiosk_for, known_everywhere, staff_at
from fault_proxy import Fault, FaultProxy, behind_proxies, proxies_in_front_of
from test_orders import shopper, web_order
from test_payments import services_of

from gateway.settings import Settings
from sandbox.dataset import Dataset

OPEN = """
mutation ($input: AfterSalesRequestInput!, $key: String!) {
  afterSalesRequestOpen(input: $input, idempotencyKey: $key) {
    replayed
    request { id number kind status description channel orderId sku createdAt closedAt }
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
  nodes {
    __typename
    ... on TimelineAfterSalesRequest { at request { id number kind status description sku } }
  }
  missingSources
"""
MY_TIMELINE = f"query {{ me {{ timeline(first: 50) {{ {ENTRIES} }} }} }}"
HER_TIMELINE = f"query ($id: ID!) {{ customer(id: $id) {{ timeline(first: 50) {{ {ENTRIES} }} }} }}"


@pytest.fixture(scope="module")
def people(dataset: Dataset) -> list[str]:
    found = known_everywhere(dataset)
    assert len(found) > 80
    return found[70:76]  # no other test reads these people's timelines or orders


def cases_of(sandbox: Any, contact_id: str) -> list[Any]:
    rows = sandbox.apps["salesforce"].app.state.salesforce_cases.rows
    return [row for row in rows if row.values.get("ContactId") == contact_id]


def requests_on(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node["request"]
        for node in timeline["nodes"]
        if node["__typename"] == "TimelineAfterSalesRequest"
    ]


async def agent_sets(sandbox: Any, case_id: str, status: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url("salesforce")) as client:
        response = await client.post(
            f"/_sandbox/salesforce/cases/{case_id}", json={"Status": status}
        )
    assert response.status_code == 200, response.text


def damaged(order: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "kind": "DAMAGED",
        "description": "The handle came off the first time I used it.",
        "orderId": order["id"],
        "sku": order["lines"][0]["sku"],
        **more,
    }


async def test_a_customer_opens_a_request_staff_and_she_follow_its_status(
    gateway, tokens, dataset, sandbox, people
):
    her = shopper(gateway, tokens, people[0])
    order = await web_order(her, dataset, "after-sales-web-1")
    opened = (await her.run(OPEN, input=damaged(order), key="as-1"))["afterSalesRequestOpen"]
    assert opened["userErrors"] == []
    assert opened["replayed"] is False
    request = opened["request"]
    assert (request["kind"], request["status"], request["channel"]) == ("DAMAGED", "NEW", "APP")
    assert (request["orderId"], request["sku"]) == (order["id"], order["lines"][0]["sku"])
    (case,) = cases_of(sandbox, people[0])
    assert case.id == request["id"]
    assert case.case_number == request["number"]
    assert case.values["Type"] == "Damaged Item"

    staff = staff_at(gateway, tokens, dataset.stores[0].id, "staff-after-sales-1")
    seen = (await staff.run(HER_TIMELINE, id=people[0]))["customer"]["timeline"]
    assert seen["missingSources"] == []
    assert [(r["id"], r["status"]) for r in requests_on(seen)] == [(request["id"], "NEW")]

    await agent_sets(sandbox, request["id"], "Working")
    mine = (await her.run(MY_TIMELINE))["me"]["timeline"]
    assert [(r["id"], r["status"], r["description"]) for r in requests_on(mine)] == [
        (request["id"], "WORKING", request["description"])
    ]

    # a kiosk she handed off to stands in a shop: her request without its description
    kiosk = await kiosk_for(gateway, tokens, her, dataset.stores[0].id, "kiosk-after-sales")
    shown = requests_on((await kiosk.run(MY_TIMELINE))["me"]["timeline"])
    assert [(r["id"], r["status"], r["description"]) for r in shown] == [
        (request["id"], "WORKING", None)
    ]

    closed = await staff.run(SET_STATUS, id=request["id"], status="CLOSED")
    assert closed["afterSalesRequestSetStatus"]["request"]["status"] == "CLOSED"
    assert closed["afterSalesRequestSetStatus"]["request"]["closedAt"] is not None
    mine = (await her.run(MY_TIMELINE))["me"]["timeline"]
    assert [r["status"] for r in requests_on(mine)] == ["CLOSED"]
    assert case.values["Status"] == "Closed"


async def test_one_key_opens_one_case_under_retries_concurrency_and_a_crash(
    gateway, tokens, dataset, sandbox, people
):
    her = shopper(gateway, tokens, people[1])
    order = await web_order(her, dataset, "after-sales-web-2")
    asked = damaged(order, kind="MISSING", description="Only one of the two arrived.")
    answers = await asyncio.gather(*(her.run(OPEN, input=asked, key="as-2") for _ in range(3)))
    ids = {a["afterSalesRequestOpen"]["request"]["id"] for a in answers}
    assert len(ids) == 1
    assert sorted(a["afterSalesRequestOpen"]["replayed"] for a in answers) == [False, True, True]
    assert len(cases_of(sandbox, people[1])) == 1

    # an agent works it; a late retry answers it as it is now and does not reopen it
    (case_id,) = ids
    await agent_sets(sandbox, case_id, "Escalated")
    again = (await her.run(OPEN, input=asked, key="as-2"))["afterSalesRequestOpen"]
    assert again["replayed"] is True
    assert again["request"]["status"] == "ESCALATED"

    # the crash: the Case was made but the gateway died before MongoDB heard its id
    services = services_of(gateway)
    claims = services.mongo[services.settings.mongodb_database]["after_sales_keys"]
    changed = await claims.update_many({"customer_id": people[1]}, {"$set": {"request_id": None}})
    assert changed.modified_count == 1
    after_crash = (await her.run(OPEN, input=asked, key="as-2"))["afterSalesRequestOpen"]
    assert after_crash["replayed"] is True
    assert after_crash["request"]["id"] == case_id
    assert after_crash["request"]["status"] == "ESCALATED"
    assert len(cases_of(sandbox, people[1])) == 1

    reused = await her.run(OPEN, input={**asked, "description": "Something else."}, key="as-2")
    assert [e["code"] for e in reused["afterSalesRequestOpen"]["userErrors"]] == [
        "IDEMPOTENCY_KEY_REUSED"
    ]
    assert reused["afterSalesRequestOpen"]["request"] is None
    assert len(cases_of(sandbox, people[1])) == 1
    # the same key is another request for another customer
    other = shopper(gateway, tokens, people[2])
    theirs = await other.run(
        OPEN,
        input={"kind": "QUESTION", "description": "Dishwasher safe?", "sku": asked["sku"]},
        key="as-2",
    )
    assert theirs["afterSalesRequestOpen"]["replayed"] is False
    assert len(cases_of(sandbox, people[2])) == 1


async def test_another_customers_order_is_not_found_like_one_that_does_not_exist(
    gateway, tokens, dataset, sandbox, people
):
    owner = shopper(gateway, tokens, people[3])
    order = await web_order(owner, dataset, "after-sales-web-3")
    other = shopper(gateway, tokens, people[4])
    theirs = (await other.run(OPEN, input=damaged(order), key="as-3"))["afterSalesRequestOpen"]
    missing = (
        await other.run(
            OPEN, input=damaged(order, orderId="gid://shopify/Order/987654321"), key="as-4"
        )
    )["afterSalesRequestOpen"]
    assert theirs["userErrors"] == missing["userErrors"]
    assert theirs["userErrors"] == [
        {
            "field": ["orderId"],
            "message": "No order of this customer has this id.",
            "code": "ORDER_NOT_FOUND",
        }
    ]
    assert cases_of(sandbox, people[4]) == []
    assert cases_of(sandbox, people[3]) == []


async def test_staff_open_a_request_for_a_customer_and_every_action_is_audited(
    gateway, tokens, dataset, sandbox, people
):
    store = dataset.stores[2].id
    staff = staff_at(gateway, tokens, store, "staff-after-sales-2")
    sku = dataset.products[0].sku
    asked = {"kind": "QUESTION", "description": "Is it back in blue?", "sku": sku}
    opened = (await staff.run(OPEN, input={**asked, "customerId": people[5]}, key="as-5"))[
        "afterSalesRequestOpen"
    ]
    request = opened["request"]
    assert (request["channel"], request["sku"], request["orderId"]) == ("STORE", sku, None)
    (case,) = cases_of(sandbox, people[5])
    assert case.values["Origin"] == "Store"
    await staff.run(SET_STATUS, id=request["id"], status="WORKING")
    unknown = await staff.run(SET_STATUS, id="500000000000000AAA", status="WORKING")
    assert unknown["afterSalesRequestSetStatus"]["userErrors"] == [
        {"field": ["id"], "code": "REQUEST_NOT_FOUND"}
    ]
    services = services_of(gateway)
    audit = services.mongo[services.settings.mongodb_database]["audit_log"]
    entries = await audit.find({"actor.id": "staff-after-sales-2"}).sort("at").to_list()
    assert [(e["action"], e["customer_id"], e["request"]) for e in entries] == [
        ("after_sales.open", people[5], {"id": None, "status": None}),
        ("after_sales.status", None, {"id": request["id"], "status": "WORKING"}),
        ("after_sales.status", None, {"id": "500000000000000AAA", "status": "WORKING"}),
    ]
    assert {e["actor"]["store_id"] for e in entries} == {store}

    without = (await staff.run(OPEN, input=asked, key="as-6"))["afterSalesRequestOpen"]
    assert [e["code"] for e in without["userErrors"]] == ["CUSTOMER_REQUIRED"]


def refusal(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_who_may_not_is_refused_before_anything_is_read(
    gateway, tokens, dataset, sandbox, people
):
    asked = {"kind": "QUESTION", "description": "?", "sku": dataset.products[0].sku}
    anonymous = Device(gateway, {})
    kiosk = Device(gateway, {"authorization": f"Bearer {tokens.kiosk(dataset.stores[0].id)}"})
    customer = shopper(gateway, tokens, people[5])
    sandbox.reset_calls()
    assert refusal(await anonymous.raw(OPEN, input=asked, key="k")) == ["UNAUTHENTICATED"]
    assert refusal(await kiosk.raw(OPEN, input=asked, key="k")) == ["FORBIDDEN"]
    for_someone_else = {**asked, "customerId": people[4]}
    assert refusal(await customer.raw(OPEN, input=for_someone_else, key="k")) == ["FORBIDDEN"]
    status = await customer.raw(SET_STATUS, id="500000000000000AAA", status="CLOSED")
    assert refusal(status) == ["FORBIDDEN"]
    assert sandbox.total_calls("salesforce") == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"description": "   "}, "INVALID_DESCRIPTION"),
        ({"description": "x" * 2001}, "INVALID_DESCRIPTION"),
        ({"sku": "not a sku!"}, "INVALID_SKU"),
        ({"sku": None, "orderId": None}, "NOTHING_REFERENCED"),
        ({"orderId": "NO-SUCH-SQUARE-ORDER"}, "ORDER_NOT_FOUND"),
        ({"orderId": None, "sku": "NO-SUCH-SKU-1"}, "PRODUCT_NOT_FOUND"),
        ({"key": ""}, "INVALID_KEY"),
    ],
)
async def test_bad_input_gets_a_stable_code_and_opens_nothing(
    gateway, tokens, dataset, sandbox, people, change, code
):
    her = shopper(gateway, tokens, people[4])
    asked = {
        "kind": "DAMAGED",
        "description": "Cracked.",
        "sku": dataset.products[0].sku,
        **{k: v for k, v in change.items() if k != "key"},
    }
    body = await her.run(OPEN, input=asked, key=change.get("key", f"bad-{code}"))
    payload = body["afterSalesRequestOpen"]
    assert [e["code"] for e in payload["userErrors"]] == [code]
    assert payload["request"] is None
    assert cases_of(sandbox, people[4]) == []


async def test_a_kind_outside_the_enum_is_refused_by_validation(gateway, tokens, people):
    her = shopper(gateway, tokens, people[4])
    body = await her.raw(OPEN, input={"kind": "BROKEN", "description": "x", "sku": "A"}, key="k")
    assert body.get("data") is None
    assert refusal(body) == ["BAD_USER_INPUT"]


@pytest.fixture(scope="module")
def salesforce_proxy(sandbox) -> Any:
    with proxies_in_front_of({"salesforce": sandbox.url("salesforce")}) as proxies:
        yield proxies["salesforce"]


async def test_salesforce_down_is_a_clear_error_no_case_and_a_partial_timeline(
    settings: Settings, make_gateway, salesforce_proxy: FaultProxy, tokens, dataset, sandbox, people
):
    contact = people[2]
    asked = {"kind": "QUESTION", "description": "When is it back?", "sku": dataset.products[1].sku}
    before = len(cases_of(sandbox, contact))
    async with make_gateway(behind_proxies(settings, {"salesforce": salesforce_proxy})) as gw:
        her = shopper(gw, tokens, contact)
        staff = staff_at(gw, tokens, dataset.stores[0].id)
        # her profile is read (and cached) while Salesforce answers: the Case is what fails
        await her.run("{ me { id } }")
        salesforce_proxy.set(Fault.REFUSE)
        try:
            failed = (await her.run(OPEN, input=asked, key="as-down"))["afterSalesRequestOpen"]
            timeline = await staff.raw(HER_TIMELINE, id=contact)
        finally:
            salesforce_proxy.set(Fault.PASS)
        assert failed["request"] is None
        assert [(e["code"], e["field"]) for e in failed["userErrors"]] == [("UPSTREAM", None)]
        assert "retry with the same key" in failed["userErrors"][0]["message"]
        assert len(cases_of(sandbox, contact)) == before
        assert timeline["data"]["customer"]["timeline"]["missingSources"] == ["AFTER_SALES"]
        (error,) = timeline["errors"]
        assert error["extensions"]["service"] == "salesforce"
        assert error["extensions"]["source"] == "AFTER_SALES"

        retried = (await her.run(OPEN, input=asked, key="as-down"))["afterSalesRequestOpen"]
        assert retried["userErrors"] == []
        assert retried["replayed"] is False
        assert len(cases_of(sandbox, contact)) == before + 1


async def test_an_answer_lost_after_salesforce_made_the_case_is_one_case_on_retry(
    settings: Settings, make_gateway, salesforce_proxy: FaultProxy, tokens, dataset, sandbox, people
):
    contact = people[3]
    asked = {"kind": "QUESTION", "description": "Spare parts?", "sku": dataset.products[2].sku}
    before = len(cases_of(sandbox, contact))
    async with make_gateway(behind_proxies(settings, {"salesforce": salesforce_proxy})) as gw:
        her = shopper(gw, tokens, contact)
        await her.run("{ me { id } }")
        # the upsert reaches Salesforce, which makes the Case; half its answer comes back
        salesforce_proxy.reset_counts()
        salesforce_proxy.set(Fault.TRUNCATED, times=1)
        try:
            first = (await her.run(OPEN, input=asked, key="as-lost"))["afterSalesRequestOpen"]
        finally:
            salesforce_proxy.set(Fault.PASS)
        assert salesforce_proxy.seen(Fault.TRUNCATED) == 1
        retried = (await her.run(OPEN, input=asked, key="as-lost"))["afterSalesRequestOpen"]
    made = cases_of(sandbox, contact)
    assert len(made) == before + 1
    assert retried["request"]["id"] == made[-1].id
    assert retried["replayed"] is True
    # the first answer: the Case (the policy resent the idempotent upsert), or UPSTREAM
    assert first["request"] is None or first["request"]["id"] == made[-1].id
