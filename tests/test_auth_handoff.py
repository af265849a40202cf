"""Kiosk hand-off: a customer lends their identity to one kiosk of one store, for minutes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import bearer
from pymongo import AsyncMongoClient

CREATE = """
mutation ($storeId: ID!) {
  kioskHandoffCreate(storeId: $storeId) {
    handoff { token storeId expiresAt }
    userErrors { field message code }
  }
}
"""
ME = "{ me { id } }"
CUSTOMER = "query ($id: ID!) { customer(id: $id) { id } }"
VENDORS = ("square", "shopify", "salesforce")


@pytest.fixture
def alice(dataset):
    return dataset.crm_contacts[7]


@pytest.fixture
def stores(dataset) -> list[str]:
    return [str(store.id) for store in dataset.stores[:2]]


@pytest.fixture
async def handoffs(settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(), tz_aware=True
    )
    yield client[settings.mongodb_database]["kiosk_handoffs"]
    await client.close()


async def hand_off(gateway, tokens, customer_id: str, store_id: str) -> dict[str, Any]:
    body = await gateway.query(
        CREATE, {"storeId": store_id}, headers=bearer(tokens.customer(customer_id))
    )
    assert "errors" not in body, body
    payload = body["data"]["kioskHandoffCreate"]
    assert payload["userErrors"] == []
    return dict(payload["handoff"])


def at_kiosk(tokens, store_id: str, handoff_token: str, device: str = "kiosk-1"):
    return {**bearer(tokens.kiosk(store_id, device)), "x-handoff-token": handoff_token}


async def test_a_kiosk_with_the_hand_off_acts_for_the_customer(gateway, tokens, alice, stores):
    handoff = await hand_off(gateway, tokens, alice.id, stores[0])
    assert handoff["storeId"] == stores[0]
    expires = datetime.fromisoformat(handoff["expiresAt"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
    kiosk = at_kiosk(tokens, stores[0], handoff["token"])
    assert (await gateway.query(ME, headers=kiosk))["data"]["me"] == {"id": alice.id}
    own = await gateway.query(CUSTOMER, {"id": alice.id}, headers=kiosk)
    assert own["data"]["customer"] == {"id": alice.id}
    other = await gateway.query(CUSTOMER, {"id": "003SOMEONEELSE0000"}, headers=kiosk)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_token_is_stored_only_as_a_digest(gateway, tokens, alice, stores, handoffs):
    handoff = await hand_off(gateway, tokens, alice.id, stores[0])
    stored = await handoffs.find_one({})
    assert stored["customer_id"] == alice.id
    assert handoff["token"] not in str(stored)


async def refused(gateway, sandbox, headers) -> str:
    sandbox.reset_calls()
    response = await gateway.http.post("/graphql", json={"query": ME}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert sum(sandbox.total_calls(vendor) for vendor in VENDORS) == 0
    return str(response.json()["errors"][0]["message"])


async def test_a_kiosk_of_another_store_is_refused(gateway, sandbox, tokens, alice, stores):
    handoff = await hand_off(gateway, tokens, alice.id, stores[0])
    await refused(gateway, sandbox, at_kiosk(tokens, stores[1], handoff["token"]))


async def test_the_first_kiosk_holds_the_hand_off(gateway, sandbox, tokens, alice, stores):
    handoff = await hand_off(gateway, tokens, alice.id, stores[0])
    first = at_kiosk(tokens, stores[0], handoff["token"], device="kiosk-1")
    assert (await gateway.query(ME, headers=first))["data"]["me"] == {"id": alice.id}
    await refused(gateway, sandbox, at_kiosk(tokens, stores[0], handoff["token"], "kiosk-2"))
    assert (await gateway.query(ME, headers=first))["data"]["me"] == {"id": alice.id}


async def test_an_expired_hand_off_is_refused(gateway, sandbox, tokens, alice, stores, handoffs):
    handoff = await hand_off(gateway, tokens, alice.id, stores[0])
    await handoffs.update_many(
        {}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    await refused(gateway, sandbox, at_kiosk(tokens, stores[0], handoff["token"]))


@pytest.mark.parametrize("who", ["anonymous", "customer", "staff"])
async def test_only_a_kiosk_may_present_a_hand_off(gateway, sandbox, tokens, alice, stores, who):
    handoff = await hand_off(gateway, tokens, alice.id, stores[0])
    identity = {
        "anonymous": {},
        "customer": bearer(tokens.customer(alice.id)),
        "staff": bearer(tokens.staff(stores[0])),
    }[who]
    message = await refused(gateway, sandbox, {**identity, "x-handoff-token": handoff["token"]})
    assert message == "A hand-off token is accepted only with a kiosk token."


async def test_a_made_up_hand_off_is_refused(gateway, sandbox, tokens, stores):
    await refused(gateway, sandbox, at_kiosk(tokens, stores[0], "not-a-hand-off"))


@pytest.mark.parametrize(
    ("who", "code"),
    [("anonymous", "UNAUTHENTICATED"), ("staff", "FORBIDDEN"), ("kiosk", "FORBIDDEN")],
)
async def test_only_a_signed_in_customer_hands_off(gateway, tokens, stores, who, code):
    headers = {
        "anonymous": {},
        "staff": bearer(tokens.staff(stores[0])),
        "kiosk": bearer(tokens.kiosk(stores[0])),
    }[who]
    body = await gateway.query(CREATE, {"storeId": stores[0]}, headers=headers)
    assert body["data"] == {"kioskHandoffCreate": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


@pytest.mark.parametrize("store", ["LNOSUCHSTORE", "warehouse"])
async def test_a_hand_off_is_for_a_store(gateway, tokens, dataset, alice, store):
    store_id = dataset.warehouse.id if store == "warehouse" else store
    body = await gateway.query(
        CREATE, {"storeId": store_id}, headers=bearer(tokens.customer(alice.id))
    )
    assert body["data"]["kioskHandoffCreate"] == {
        "handoff": None,
        "userErrors": [
            {"field": ["storeId"], "message": "No store has this id.", "code": "STORE_NOT_FOUND"}
        ],
    }
