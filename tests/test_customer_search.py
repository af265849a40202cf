"""Staff finding a customer: `customers(search:)` by email, phone (typed any way), loyalty
card and POS customer id, over loopback against the sandbox and a real mongod; once per CRM
(the `crm` fixture: Salesforce and HubSpot over the same people).

Who may search, the audit entries it writes, and the staff member's search budget.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import Crm, bearer, running_gateway
from profile_support import database_of, person_on_every_system

from commerce.audit import term_digest
from commerce.customers.identity import normalise_phone
from gateway.settings import Settings
from sandbox.dataset import Dataset

SEARCH = """
query Find($search: CustomerSearchInput!) {
  customers(search: $search) { id email phone externalRefs { system id } loyalty { balance } }
}
"""
VENDORS = ("square", "shopify", "salesforce", "hubspot")


@pytest.fixture
def settings(settings: Settings, crm: Crm) -> Settings:
    return crm.settings(settings)


@pytest.fixture(scope="module")
def everywhere(dataset: Dataset):
    return person_on_every_system(dataset)


@pytest.fixture
def staff(tokens, dataset: Dataset) -> dict[str, str]:
    return bearer(tokens.staff(dataset.stores[0].id))


async def found_ids(gateway, headers: dict[str, str], **search: str) -> list[str]:
    body = await gateway.query(SEARCH, {"search": search}, headers=headers)
    assert "errors" not in body, body
    return [customer["id"] for customer in body["data"]["customers"]]


def phone_formats(e164: str) -> list[str]:
    """One US number as people type it: brackets and a dash, the +1 and dashes, the
    international 00 prefix and spaces."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [
        f"({area}) {exchange}-{line}",
        f"+1 {area}-{exchange}-{line}",
        f"001 {area} {exchange} {line}",
    ]


async def test_by_email_answers_the_merged_profile(gateway, staff, everywhere, crm):
    contact, pos, shop, _ = everywhere
    typed = f"  {contact.email.upper()} "
    body = await gateway.query(SEARCH, {"search": {"email": typed}}, headers=staff)
    assert "errors" not in body, body
    [customer] = body["data"]["customers"]
    assert customer["id"] == crm.id_of(contact)
    refs = {(ref["system"], ref["id"]) for ref in customer["externalRefs"]}
    assert ("SQUARE", pos.id) in refs
    assert ("SHOPIFY", f"gid://shopify/Customer/{shop.id}") in refs
    assert customer["loyalty"] is not None


@pytest.mark.parametrize("shape", [0, 1, 2], ids=["brackets", "plus-one-dashes", "00-spaces"])
async def test_by_phone_in_any_format(gateway, staff, everywhere, crm, shape):
    contact, *_ = everywhere
    e164 = normalise_phone(contact.phone)
    assert e164 is not None
    typed = phone_formats(e164)[shape]
    assert crm.id_of(contact) in await found_ids(gateway, staff, phone=typed)


async def test_by_loyalty_card_and_by_pos_customer_id(gateway, staff, everywhere, crm):
    contact, pos, _, account = everywhere
    assert await found_ids(gateway, staff, loyaltyCard=account.id) == [crm.id_of(contact)]
    assert await found_ids(gateway, staff, posCustomerId=pos.id) == [crm.id_of(contact)]


@pytest.mark.parametrize(
    "search",
    [
        {"email": "nobody.at.all@example.org"},
        {"phone": "+1 (555) 010-9999"},
        {"loyaltyCard": str(uuid.UUID(int=7))},
        {"posCustomerId": "NOSUCHCUSTOMER000000000000"},
    ],
    ids=["email", "phone", "loyalty-card", "pos-customer-id"],
)
async def test_no_match_is_an_empty_list(gateway, staff, search):
    assert await found_ids(gateway, staff, **search) == []


async def test_a_term_that_cannot_be_one_is_bad_user_input(gateway, staff, sandbox):
    body = await gateway.query(SEARCH, {"search": {"phone": "12-34"}}, headers=staff)
    assert body["data"]["customers"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert sum(sandbox.total_calls(v) for v in VENDORS) == 0


async def test_two_keys_at_once_fail_validation(gateway, staff):
    body = await gateway.query(
        SEARCH, {"search": {"email": "a@example.com", "phone": "+12125000000"}}, headers=staff
    )
    assert body.get("data") is None
    # the input is @oneOf: the variables do not validate, so nothing runs
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize("who", ["anonymous", "customer", "kiosk", "handoff", "display"])
async def test_refused_to_anyone_but_staff_before_any_upstream_call(
    gateway, tokens, dataset, sandbox, everywhere, crm, who
):
    contact, *_ = everywhere
    store = dataset.stores[0].id
    headers: dict[str, str] = {
        "anonymous": {},
        "customer": bearer(tokens.customer(crm.id_of(contact))),
        "kiosk": bearer(tokens.kiosk(store)),
        "display": bearer(tokens.display(store)),
    }.get(who, {})
    if who == "handoff":
        created = await gateway.query(
            "mutation ($s: ID!) { kioskHandoffCreate(storeId: $s) { handoff { token } } }",
            {"s": store},
            headers=bearer(tokens.customer(crm.id_of(contact))),
        )
        handoff = created["data"]["kioskHandoffCreate"]["handoff"]["token"]
        headers = {**bearer(tokens.kiosk(store)), "x-handoff-token": handoff}
    sandbox.reset_calls()
    body = await gateway.query(SEARCH, {"search": {"email": contact.email}}, headers=headers)
    assert body.get("data") in (None, {"customers": None})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert sum(sandbox.total_calls(v) for v in VENDORS) == 0


async def audit_entries(settings: Settings, **query: Any) -> list[dict[str, Any]]:
    async with database_of(settings) as database:
        return await database["audit_log"].find(query, {"_id": 0}).to_list()


async def test_each_search_is_audited_with_its_term_masked_and_hashed(
    gateway, settings, staff, dataset, everywhere, crm
):
    contact, *_ = everywhere
    email = contact.email.strip().lower()
    await found_ids(gateway, staff, email=contact.email)
    [entry] = await audit_entries(settings, action="customer.search")
    assert entry["actor"] == {"kind": "STAFF", "id": "staff-0001", "store_id": dataset.stores[0].id}
    local, _, domain = email.partition("@")
    assert entry["search"] == {
        "key": "EMAIL",
        "masked": f"{local[0]}***@{domain}",
        "sha256": term_digest("EMAIL", email),
    }
    assert entry["operation"] == {"name": "Find", "type": "query", "path": "customers"}
    assert entry["fields"] == ["email", "externalRefs", "id", "loyalty", "phone"]
    assert email not in repr(entry)
    # the customer answered is a staff read of that customer, on record as `customer(id:)` is
    [read] = await audit_entries(settings, action="customer.read")
    assert read["customer_id"] == crm.id_of(contact)


async def test_a_phone_search_keeps_only_its_last_digits(gateway, settings, staff, everywhere):
    contact, *_ = everywhere
    e164 = normalise_phone(contact.phone)
    assert e164 is not None
    await found_ids(gateway, staff, phone=phone_formats(e164)[0])
    [entry] = await audit_entries(settings, action="customer.search")
    assert entry["search"]["masked"] == "*" * (len(e164) - 2) + e164[-2:]
    assert entry["search"]["sha256"] == term_digest("PHONE", e164)
    assert e164[1:] not in repr(entry)


async def test_an_empty_search_is_on_record_too(gateway, settings, staff):
    assert await found_ids(gateway, staff, posCustomerId="NOSUCHCUSTOMER000000000000") == []
    [entry] = await audit_entries(settings, action="customer.search")
    assert entry["search"]["key"] == "POS_CUSTOMER_ID"
    assert await audit_entries(settings, action="customer.read") == []


@pytest.fixture
def tight_budget(settings: Settings) -> Settings:
    limits = settings.rate_limits.model_dump()
    limits["customer_search"] = {"requests": 2, "window_seconds": 3600}
    return settings.with_changes(rate_limits=limits)


async def test_past_the_budget_a_staff_member_is_rate_limited(
    tight_budget, tokens, dataset, sandbox
):
    store = dataset.stores[0].id
    first, second = bearer(tokens.staff(store, "staff-a")), bearer(tokens.staff(store, "staff-b"))
    search = {"search": {"posCustomerId": "NOSUCHCUSTOMER000000000000"}}
    async with running_gateway(tight_budget) as gateway:
        for _ in range(2):
            assert "errors" not in await gateway.query(SEARCH, search, headers=first)
        sandbox.reset_calls()
        body = await gateway.query(SEARCH, search, headers=first)
        assert body["data"]["customers"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= error["extensions"]["retryAfterSeconds"] <= 1800
        assert sum(sandbox.total_calls(v) for v in VENDORS) == 0
        # the budget is the staff member's own: another is not held back
        assert "errors" not in await gateway.query(SEARCH, search, headers=second)
    refused = await audit_entries(tight_budget, action="customer.search", **{"actor.id": "staff-a"})
    assert len(refused) == 2  # a refused search made no read: nothing more on record
