"""Who may read which customer: `me`, `customer(id:)` and `_entities` for every principal,
the audit row of every staff read, and nothing fetched upstream for a refused read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import bearer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect

VENDORS = ("square", "shopify", "salesforce")
CUSTOMER = "query Profile($id: ID!) { customer(id: $id) { id email loyalty { tier } } }"
ME = "query { me { id email } }"
ENTITIES = (
    "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id phone } } }"
)


@pytest.fixture
def alice(dataset):
    return dataset.crm_contacts[5]


@pytest.fixture
def bob(dataset):
    return dataset.crm_contacts[6]


@pytest.fixture
def store(dataset) -> str:
    return str(dataset.stores[0].id)


@pytest.fixture
async def audit_log(settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(), tz_aware=True
    )
    yield client[settings.mongodb_database]["audit_log"]
    await client.close()


def upstream_calls(sandbox) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in VENDORS)


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


# -- customer(id:) ----------------------------------------------------------------------------


async def test_a_customer_reads_their_own_profile_by_id(gateway, tokens, alice):
    body = await gateway.query(
        CUSTOMER, {"id": alice.id}, headers=bearer(tokens.customer(alice.id))
    )
    assert codes(body) == []
    assert body["data"]["customer"]["id"] == alice.id


@pytest.mark.parametrize("document", [CUSTOMER, ENTITIES])
async def test_another_customers_id_is_not_found_and_fetches_nothing(
    gateway, sandbox, tokens, alice, bob, document
):
    headers = bearer(tokens.customer(alice.id))
    variables = {"id": bob.id, "r": [{"__typename": "Customer", "id": bob.id}]}
    sandbox.reset_calls()
    body = await gateway.query(document, _only_used(document, variables), headers=headers)
    assert codes(body) == ["NOT_FOUND"]
    assert upstream_calls(sandbox) == 0
    assert body["data"] in ({"customer": None}, {"_entities": [None]})


async def test_a_made_up_id_answers_a_customer_as_another_customers_does(
    gateway, tokens, alice, bob
):
    headers = bearer(tokens.customer(alice.id))
    other = await gateway.query(CUSTOMER, {"id": bob.id}, headers=headers)
    made_up = await gateway.query(CUSTOMER, {"id": "003NOSUCHCONTACT00"}, headers=headers)
    assert other == made_up


@pytest.mark.parametrize("document", [CUSTOMER, ENTITIES])
async def test_anonymous_reads_of_a_customer_are_unauthenticated(gateway, sandbox, alice, document):
    variables = {"id": alice.id, "r": [{"__typename": "Customer", "id": alice.id}]}
    sandbox.reset_calls()
    body = await gateway.query(
        document, _only_used(document, variables), headers={"x-cart-token": "g"}
    )
    assert codes(body) == ["UNAUTHENTICATED"]
    assert upstream_calls(sandbox) == 0


async def test_a_kiosk_without_a_hand_off_may_not_read_customers(
    gateway, sandbox, tokens, alice, store
):
    sandbox.reset_calls()
    body = await gateway.query(CUSTOMER, {"id": alice.id}, headers=bearer(tokens.kiosk(store)))
    assert codes(body) == ["FORBIDDEN"]
    assert body["data"] == {"customer": None}
    assert upstream_calls(sandbox) == 0


async def test_staff_read_any_customer_and_each_read_is_audited(
    gateway, tokens, audit_log, alice, bob, store
):
    headers = bearer(tokens.staff(store, "emp-42"))
    for contact in (alice, bob):
        body = await gateway.query(CUSTOMER, {"id": contact.id}, headers=headers)
        assert body["data"]["customer"]["id"] == contact.id
    rows = await audit_log.find({}, {"_id": 0}).sort("at", 1).to_list()
    assert [row["customer_id"] for row in rows] == [alice.id, bob.id]
    first = rows[0]
    assert first["action"] == "customer.read"
    assert first["actor"] == {"kind": "STAFF", "id": "emp-42", "store_id": store}
    assert first["operation"] == {"name": "Profile", "type": "query", "path": "customer"}
    assert first["fields"] == ["email", "id", "loyalty"]
    assert first["at"].tzinfo is not None


async def test_a_staff_entity_read_is_audited_with_its_customer_fields(
    gateway, tokens, audit_log, alice, store
):
    body = await gateway.query(
        ENTITIES,
        {"r": [{"__typename": "Customer", "id": alice.id}]},
        headers=bearer(tokens.staff(store)),
    )
    assert body["data"]["_entities"][0]["id"] == alice.id
    row = await audit_log.find_one({"customer_id": alice.id})
    assert (row["operation"]["path"], row["fields"]) == ("_entities", ["id", "phone"])


async def test_each_staff_read_names_its_own_query_s_fields_however_often_it_is_sent(
    gateway, tokens, audit_log, alice, bob, store
):
    """The fields are worked out once per query (engine/operation_memo.py): queries sent
    in turn, one with a fragment, and an entity read of two customers each keep theirs."""
    headers = bearer(tokens.staff(store))
    names = "query Names($id: ID!) { customer(id: $id) { ... on Customer { givenName } } }"
    both = (
        "query Both($a: ID!, $b: ID!) { a: customer(id: $a) { id } b: customer(id: $b) { phone } }"
    )
    for _ in range(2):
        await gateway.query(CUSTOMER, {"id": alice.id}, headers=headers)
        await gateway.query(names, {"id": alice.id}, headers=headers)
        await gateway.query(both, {"a": alice.id, "b": bob.id}, headers=headers)
    representations = [{"__typename": "Customer", "id": c.id} for c in (alice, bob)]
    await gateway.query(ENTITIES, {"r": representations}, headers=headers)
    seen = sorted(
        (
            (row["operation"]["name"], row["operation"]["path"], row["customer_id"], row["fields"])
            for row in await audit_log.find({}).to_list()
        ),
        key=str,
    )
    sent_twice = [
        ("Profile", "customer", alice.id, ["email", "id", "loyalty"]),
        ("Names", "customer", alice.id, ["givenName"]),
        ("Both", "a", alice.id, ["id"]),
        ("Both", "b", bob.id, ["phone"]),
    ]
    entities = [
        (None, "_entities", alice.id, ["id", "phone"]),
        (None, "_entities", bob.id, ["id", "phone"]),
    ]
    assert seen == sorted(sent_twice * 2 + entities, key=str)


async def test_a_customer_reading_their_own_profile_is_not_audited(
    gateway, tokens, audit_log, alice
):
    headers = bearer(tokens.customer(alice.id))
    await gateway.query(CUSTOMER, {"id": alice.id}, headers=headers)
    await gateway.query(ME, headers=headers)
    assert await audit_log.count_documents({}) == 0


async def test_a_staff_read_that_cannot_be_audited_is_not_made(
    gateway, sandbox, tokens, alice, store, monkeypatch
):
    insert_one = AsyncCollection.insert_one

    async def audit_log_down(self, document, *args, **kwargs):
        if self.name == "audit_log":
            raise AutoReconnect("mongod is down")
        return await insert_one(self, document, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "insert_one", audit_log_down)
    sandbox.reset_calls()
    body = await gateway.query(CUSTOMER, {"id": alice.id}, headers=bearer(tokens.staff(store)))
    assert body["data"] == {"customer": None}
    assert body["errors"][0]["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "service": "mongodb"}
    assert upstream_calls(sandbox) == 0


async def test_a_staff_read_fetches_while_its_audit_entry_is_written(
    gateway, sandbox, tokens, audit_log, alice, store, monkeypatch
):
    """The entry is awaited, but not before the fetch starts: here it is acknowledged only
    once the upstream has been asked, which waiting for it first could never see."""
    insert_one = AsyncCollection.insert_one
    seen_upstream_calls: list[int] = []

    async def insert_after_the_fetch_starts(self, document, *args, **kwargs):
        if self.name == "audit_log":
            for _ in range(500):  # up to 5 s: the fetch is under way long before
                if upstream_calls(sandbox):
                    break
                await asyncio.sleep(0.01)
            seen_upstream_calls.append(upstream_calls(sandbox))
        return await insert_one(self, document, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "insert_one", insert_after_the_fetch_starts)
    sandbox.reset_calls()
    body = await gateway.query(CUSTOMER, {"id": alice.id}, headers=bearer(tokens.staff(store)))
    assert body["data"]["customer"]["id"] == alice.id
    assert seen_upstream_calls[0] > 0
    assert await audit_log.count_documents({"customer_id": alice.id}) == 1


# -- me -------------------------------------------------------------------------------------


async def test_me_is_the_signed_in_customer(gateway, tokens, alice):
    body = await gateway.query(ME, headers=bearer(tokens.customer(alice.id)))
    assert body["data"]["me"]["id"] == alice.id


@pytest.mark.parametrize(
    ("who", "code"),
    [("anonymous", "UNAUTHENTICATED"), ("kiosk", "UNAUTHENTICATED"), ("staff", "FORBIDDEN")],
)
async def test_me_without_a_customer(gateway, sandbox, tokens, store, who, code):
    headers = {
        "anonymous": {},
        "kiosk": bearer(tokens.kiosk(store)),
        "staff": bearer(tokens.staff(store)),
    }[who]
    sandbox.reset_calls()
    body = await gateway.query(ME, headers=headers)
    assert body["data"] == {"me": None}
    assert codes(body) == [code]
    assert upstream_calls(sandbox) == 0


def _only_used(document: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in variables.items() if f"${name}" in document}
