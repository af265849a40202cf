"""Signed vendor webhooks invalidate the cached customer profile, once, and nothing else does.

Signatures here are computed with the standard library (or pinned to values computed with
openssl), never with the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import GatewayClient
from profile_support import mongod_of_its_own, wait_for
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from connectors.records import System
from gateway.app import create_app
from gateway.local_mongod import LocalMongod
from gateway.settings import Environment, Settings
from gateway.webhooks import (
    DeliveryNotApplied,
    InvalidSignature,
    apply_delivery,
    shopify_customer_gids,
    square_ids,
    verify_hubspot_v3,
    verify_shopify,
    verify_square,
)

SQUARE_KEY = "test-square-signature-key"
SQUARE_URL = "https://gateway.example.com/webhooks/square"
SHOPIFY_SECRET = "test-shopify-client-secret"

PROFILE = """
query ($id: ID!) {
  customer(id: $id) { id email externalRefs { system id } loyalty { balance } }
}
"""


def b64_hmac(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


# -- the verifiers against known answers ---------------------------------------------------


def test_square_signature_matches_an_openssl_vector():
    # printf '%s' "$URL$BODY" | openssl dgst -sha256 -hmac vector-key -binary | base64
    body = b'{"event_id":"e1"}'
    url = "https://gateway.example/webhooks/square"
    verify_square("vector-key", url, body, "ed2lyVBWA5KguFcGOEH8RMareb4RK1NgO0E2x4p64zA=")
    with pytest.raises(InvalidSignature):  # the URL is part of what is signed
        verify_square("vector-key", url + "/", body, "ed2lyVBWA5KguFcGOEH8RMareb4RK1NgO0E2x4p64zA=")


def test_shopify_signature_matches_an_openssl_vector():
    verify_shopify("vector-secret", b'{"id":1}', "yVGMvjm3H5JpWh8SXcntbomHXrXe1X+ovOlVUVlagsM=")
    with pytest.raises(InvalidSignature):
        verify_shopify("vector-secret", b'{"id":2}', "yVGMvjm3H5JpWh8SXcntbomHXrXe1X+ovOlVUVlagsM=")


HUBSPOT_TS = "1700000000000"
HUBSPOT_AT = datetime.fromtimestamp(1_700_000_000, UTC)
# printf '%s' 'POSThttps://example.com/webhooks/hubspot?x=a:b{"a":1}1700000000000' | openssl ...
HUBSPOT_SIGNATURE = "lV7OVt2h2zVbrH3u33u5bR9NrpdZDf+W58wDhCfbEIc="


def hubspot(**overrides):
    arguments = {
        "method": "POST",
        "uri": "https://example.com/webhooks/hubspot?x=a%3Ab",
        "body": b'{"a":1}',
        "signature": HUBSPOT_SIGNATURE,
        "timestamp": HUBSPOT_TS,
        "now": HUBSPOT_AT + timedelta(seconds=30),
    } | overrides
    verify_hubspot_v3("hub-secret", **arguments)


def test_hubspot_v3_accepts_a_fresh_signed_request_with_its_uri_decoded():
    hubspot()
    hubspot(uri="https://example.com/webhooks/hubspot?x=a:b")
    hubspot(now=HUBSPOT_AT + timedelta(minutes=4, seconds=59))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"now": HUBSPOT_AT + timedelta(minutes=5, seconds=1)}, id="stale"),
        pytest.param({"now": HUBSPOT_AT - timedelta(minutes=6)}, id="from-the-future"),
        pytest.param({"timestamp": None}, id="no-timestamp"),
        pytest.param({"timestamp": "yesterday"}, id="timestamp-not-ms"),
        pytest.param({"timestamp": "9" * 30}, id="timestamp-out-of-range"),
        pytest.param({"signature": None}, id="no-signature"),
        pytest.param({"signature": HUBSPOT_SIGNATURE.lower()}, id="wrong-signature"),
        pytest.param({"body": b'{"a":2}'}, id="body-changed"),
        pytest.param({"method": "GET"}, id="method-changed"),
        pytest.param({"uri": "https://example.com/webhooks/hubspot?x=a%3Ac"}, id="uri-changed"),
    ],
)
def test_hubspot_v3_refuses(overrides):
    with pytest.raises(InvalidSignature):
        hubspot(**overrides)


def test_hubspot_v3_stale_timestamp_is_refused_even_with_a_valid_signature():
    timestamp = str(int((datetime.now(UTC) - timedelta(minutes=6)).timestamp() * 1000))
    uri = "https://gw.example/hooks"
    signature = b64_hmac("s", b"POST" + uri.encode() + b"{}" + timestamp.encode())
    with pytest.raises(InvalidSignature, match="window"):
        verify_hubspot_v3(
            "s", method="POST", uri=uri, body=b"{}", signature=signature, timestamp=timestamp
        )


def test_square_events_name_customers_merges_and_loyalty_accounts():
    merged = {
        "type": "customer.deleted",
        "data": {
            "type": "customer",
            "id": "OLD1",
            "object": {
                "customer": {"id": "OLD1"},
                "event_context": {
                    "merge": {"from_customer_ids": ["OLD1", "OLD2"], "to_customer_id": "NEW"}
                },
            },
        },
    }
    assert square_ids(merged) == {"OLD1", "OLD2", "NEW"}
    account = {
        "type": "loyalty.account.updated",
        "data": {
            "type": "loyalty_account",
            "id": "ACC",
            "object": {"loyalty_account": {"id": "ACC", "customer_id": "CUST"}},
        },
    }
    assert square_ids(account) == {"ACC", "CUST"}
    assert square_ids({"type": "payment.created", "data": {"id": "P"}}) == set()


def test_shopify_topics_name_customers_as_gids():
    gid = "gid://shopify/Customer/42"
    assert shopify_customer_gids("customers/update", {"id": 42, "admin_graphql_api_id": gid}) == {
        gid
    }
    assert shopify_customer_gids("customers/redact", {"customer": {"id": 42}}) == {gid}
    assert shopify_customer_gids("orders/create", {"id": 7, "customer": {"id": 42}}) == set()


# -- the endpoints, against a real mongod and the sandbox ----------------------------------


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.with_changes(
        webhooks={
            "square_signature_key": SQUARE_KEY,
            "square_notification_url": SQUARE_URL,
            "shopify_secret": SHOPIFY_SECRET,
            "max_body_bytes": 64 * 1024,
        }
    )


@asynccontextmanager
async def webhook_gateway(settings: Settings) -> AsyncIterator[GatewayClient]:
    app = create_app(settings)  # the routes as the app mounts them
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield GatewayClient(client)


@pytest.fixture
async def gateway(webhook_settings, sandbox, tokens, dataset) -> AsyncIterator[GatewayClient]:
    async with webhook_gateway(webhook_settings) as client:
        # profiles are read as staff: `customer(id:)` is staff-only
        client.http.headers["authorization"] = f"Bearer {tokens.staff(dataset.stores[0].id)}"
        sandbox.reset_calls()
        yield client


@pytest.fixture(scope="module")
def two_people(dataset):
    """Two CRM contacts, each known once to the CRM, to the POS with loyalty, and online."""
    crm_count: dict[int, int] = {}
    for contact in dataset.crm_contacts:
        crm_count[contact.person_key] = crm_count.get(contact.person_key, 0) + 1
    loyalty = {a.customer_id: a for a in dataset.loyalty_accounts}
    shop_by_person = {c.person_key: c for c in dataset.shop_customers}
    contacts = {c.person_key: c for c in dataset.crm_contacts}
    found = []
    for pos in dataset.pos_customers:
        shop = shop_by_person.get(pos.person_key)
        if crm_count.get(pos.person_key) == 1 and pos.id in loyalty and pos.email_address and shop:
            found.append((contacts[pos.person_key], pos, shop, loyalty[pos.id]))
        if len(found) == 2:
            return found
    raise AssertionError("the dataset has no two such people")


async def read_profile(gateway, contact_id):
    body = await gateway.query(PROFILE, {"id": contact_id})
    assert "errors" not in body, body
    assert body["data"]["customer"]["id"] == contact_id
    return body["data"]["customer"]


async def cache_both(gateway, sandbox, two_people):
    """Both profiles read once (so cached), then the call counters zeroed."""
    for contact, *_ in two_people:
        await read_profile(gateway, contact.id)
    sandbox.reset_calls()


async def crm_calls_to_read(gateway, sandbox, contact_id) -> int:
    sandbox.reset_calls()
    await read_profile(gateway, contact_id)
    return sandbox.total_calls("salesforce")


def square_event(customer_id, *, event_type="customer.updated", event_id=None):
    return {
        "merchant_id": "MLSANDBOX0001",
        "type": event_type,
        "event_id": event_id or str(uuid.uuid4()),
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "type": "customer",
            "id": customer_id,
            "object": {"customer": {"id": customer_id, "version": 2}},
        },
    }


async def post_square(gateway, event, *, signature=..., body=None):
    raw = body if body is not None else json.dumps(event).encode()
    headers = {"content-type": "application/json"}
    if signature is ...:
        signature = b64_hmac(SQUARE_KEY, SQUARE_URL.encode() + raw)
    if signature is not None:
        headers["x-square-hmacsha256-signature"] = signature
    return await gateway.http.post("/webhooks/square", content=raw, headers=headers)


def shopify_customer(shop_id):
    return {
        "id": shop_id,
        "email": "someone@example.com",
        "first_name": "Some",
        "last_name": "One",
        "state": "enabled",
        "admin_graphql_api_id": f"gid://shopify/Customer/{shop_id}",
    }


async def post_shopify(
    gateway, payload, *, topic="customers/update", webhook_id=None, signature=...
):
    raw = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-webhook-id": webhook_id or str(uuid.uuid4()),
        "x-shopify-shop-domain": "sandbox.myshopify.com",
        "x-shopify-api-version": "2026-07",
        "x-shopify-triggered-at": datetime.now(UTC).isoformat(),
    }
    if signature is ...:
        signature = b64_hmac(SHOPIFY_SECRET, raw)
    if signature is not None:
        headers["x-shopify-hmac-sha256"] = signature
    return await gateway.http.post("/webhooks/shopify", content=raw, headers=headers)


async def test_square_customer_update_invalidates_exactly_that_profile(
    gateway, sandbox, two_people
):
    (alice, alice_pos, _, _), (bob, _, _, _) = two_people
    await cache_both(gateway, sandbox, two_people)

    response = await post_square(gateway, square_event(alice_pos.id))

    assert response.status_code == 200
    assert response.json() == {"status": "applied", "invalidated": 1}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) >= 1
    assert await crm_calls_to_read(gateway, sandbox, bob.id) == 0


async def test_square_loyalty_update_invalidates_the_profile_holding_the_account(
    gateway, sandbox, two_people
):
    (alice, _, _, account), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    event = square_event(account.id, event_type="loyalty.account.updated")
    event["data"] = {
        "type": "loyalty_account",
        "id": account.id,
        "object": {"loyalty_account": {"id": account.id, "balance": account.balance + 10}},
    }

    response = await post_square(gateway, event)

    assert response.json() == {"status": "applied", "invalidated": 1}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) >= 1


async def test_shopify_customer_update_invalidates_exactly_that_profile(
    gateway, sandbox, two_people
):
    (alice, _, alice_shop, _), (bob, _, _, _) = two_people
    await cache_both(gateway, sandbox, two_people)

    response = await post_shopify(gateway, shopify_customer(alice_shop.id))

    assert response.status_code == 200
    assert response.json() == {"status": "applied", "invalidated": 1}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) >= 1
    assert await crm_calls_to_read(gateway, sandbox, bob.id) == 0


async def test_shopify_order_topic_is_acknowledged_and_invalidates_nothing(
    gateway, sandbox, two_people
):
    (alice, _, alice_shop, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    order = {"id": 820982911946154508, "customer": shopify_customer(alice_shop.id)}

    response = await post_shopify(gateway, order, topic="orders/create")

    assert response.json() == {"status": "applied", "invalidated": 0}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing-header"),
        pytest.param("", id="empty-header"),
        pytest.param(base64.b64encode(b"x" * 32).decode(), id="wrong-signature"),
        pytest.param(b"\xe9t\xe9 not base64", id="non-ascii-garbage"),
    ],
)
async def test_square_without_a_valid_signature_is_401_and_changes_nothing(
    gateway, sandbox, two_people, signature
):
    (alice, alice_pos, _, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)

    response = await post_square(gateway, square_event(alice_pos.id), signature=signature)

    assert response.status_code == 401
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


async def test_square_signed_for_another_notification_url_is_401(gateway, sandbox, two_people):
    (alice, alice_pos, _, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    raw = json.dumps(square_event(alice_pos.id)).encode()
    elsewhere = b64_hmac(SQUARE_KEY, b"https://attacker.example/webhooks/square" + raw)

    response = await post_square(gateway, None, body=raw, signature=elsewhere)

    assert response.status_code == 401
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing-header"),
        pytest.param(b64_hmac("another-app-secret", b"{}"), id="wrong-secret"),
    ],
)
async def test_shopify_without_a_valid_signature_is_401_and_changes_nothing(
    gateway, sandbox, two_people, signature
):
    (alice, _, alice_shop, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)

    response = await post_shopify(gateway, shopify_customer(alice_shop.id), signature=signature)

    assert response.status_code == 401
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


async def test_a_tampered_body_is_401(gateway, sandbox, two_people):
    (alice, _, alice_shop, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    signed_for = json.dumps(shopify_customer(999)).encode()
    raw = json.dumps(shopify_customer(alice_shop.id)).encode()
    headers = {
        "x-shopify-topic": "customers/update",
        "x-shopify-webhook-id": str(uuid.uuid4()),
        "x-shopify-hmac-sha256": b64_hmac(SHOPIFY_SECRET, signed_for),
    }

    response = await gateway.http.post("/webhooks/shopify", content=raw, headers=headers)

    assert response.status_code == 401
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


async def test_a_redelivered_square_event_is_a_no_op(gateway, sandbox, two_people):
    (alice, alice_pos, _, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    event = square_event(alice_pos.id)
    assert (await post_square(gateway, event)).json()["status"] == "applied"
    await read_profile(gateway, alice.id)  # cached again

    again = await post_square(gateway, event)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "invalidated": 0}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


async def test_a_redelivered_shopify_webhook_is_a_no_op(gateway, sandbox, two_people):
    (alice, _, alice_shop, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    webhook_id = str(uuid.uuid4())
    first = await post_shopify(gateway, shopify_customer(alice_shop.id), webhook_id=webhook_id)
    assert first.json()["status"] == "applied"
    await read_profile(gateway, alice.id)

    again = await post_shopify(gateway, shopify_customer(alice_shop.id), webhook_id=webhook_id)

    assert again.json() == {"status": "duplicate", "invalidated": 0}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) == 0


async def test_copies_of_one_delivery_arriving_together_apply_once(
    webhook_settings, gateway, sandbox, two_people
):
    """Two pods (here two apps on one MongoDB) each get copies of one delivery at once: the
    unique index on the delivery log lets exactly one apply it."""
    (_, alice_pos, _, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    event = square_event(alice_pos.id)
    async with webhook_gateway(webhook_settings) as other_pod:
        answers = await asyncio.gather(
            *(post_square(pod, event) for _ in range(4) for pod in (gateway, other_pod))
        )
    assert [a.status_code for a in answers] == [200] * 8
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["applied"] + ["duplicate"] * 7


async def test_an_unsigned_copy_does_not_burn_the_delivery_id(gateway, sandbox, two_people):
    (_, alice_pos, _, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    event = square_event(alice_pos.id)
    assert (await post_square(gateway, event, signature="forged")).status_code == 401

    genuine = await post_square(gateway, event)

    assert genuine.json() == {"status": "applied", "invalidated": 1}


@pytest.mark.parametrize("path", ["/webhooks/square", "/webhooks/shopify"])
async def test_an_oversize_body_is_413(gateway, path):
    response = await gateway.http.post(path, content=b"{" + b" " * (64 * 1024) + b"}")
    assert response.status_code == 413


async def test_a_signed_body_that_is_not_a_json_object_is_400(gateway):
    response = await post_square(gateway, None, body=b"[1, 2]")
    assert response.status_code == 400


async def test_deliveries_are_kept_with_a_ttl_and_a_unique_index(gateway, webhook_settings):
    mongo: AsyncMongoClient = AsyncMongoClient(webhook_settings.mongodb_uri.get_secret_value())
    try:
        indexes = await mongo[webhook_settings.mongodb_database][
            "webhook_deliveries"
        ].index_information()
    finally:
        await mongo.close()
    by_keys = {tuple(key for key, _ in spec["key"]): spec for spec in indexes.values()}
    assert by_keys[("expires_at",)]["expireAfterSeconds"] == 0
    assert by_keys[("vendor", "delivery_id")]["unique"] is True


class FakeDeliveries:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.recorded: set[tuple[str, str]] = set()

    async def record(self, vendor, delivery_id, retention):
        if self.fail:
            raise AutoReconnect("mongod gone")
        new = (vendor, delivery_id) not in self.recorded
        self.recorded.add((vendor, delivery_id))
        return new

    async def forget(self, vendor, delivery_id):
        self.recorded.discard((vendor, delivery_id))


class FailingCache:
    async def invalidate_by_refs(self, system, ids):
        raise AutoReconnect("mongod gone")


def apply(deliveries, cache):
    return apply_delivery(
        deliveries=deliveries,
        cache=cache,
        vendor="square",
        delivery_id="event-1",
        system=System.SQUARE,
        ids={"CUSTOMER"},
        retention=timedelta(days=7),
    )


async def test_a_failed_invalidation_is_forgotten_so_the_vendor_retry_applies_it():
    deliveries = FakeDeliveries()
    with pytest.raises(DeliveryNotApplied):
        await apply(deliveries, FailingCache())
    assert deliveries.recorded == set()


async def test_an_unreachable_delivery_log_is_not_applied():
    with pytest.raises(DeliveryNotApplied):
        await apply(FakeDeliveries(fail=True), FailingCache())


@pytest.fixture
def own_mongod(tmp_path: Path) -> Iterator[LocalMongod]:
    with mongod_of_its_own(tmp_path / "mongod") as server:
        yield server


async def test_mongodb_down_answers_503_and_the_vendors_retry_applies_it(
    webhook_settings, sandbox, tokens, dataset, two_people, own_mongod
):
    (alice, alice_pos, _, _), _ = two_people
    settings = webhook_settings.with_changes(
        mongodb_uri=own_mongod.uri,
        mongodb_timeout_seconds=0.5,
        cache={"profile_cache_retry_seconds": 0.2},
    )
    async with webhook_gateway(settings) as gateway:
        gateway.http.headers["authorization"] = f"Bearer {tokens.staff(dataset.stores[0].id)}"
        await read_profile(gateway, alice.id)
        event = square_event(alice_pos.id)

        own_mongod.stop()
        response = await post_square(gateway, event)
        assert response.status_code == 503

        own_mongod.start()

        async def retry_applied():
            retried = await post_square(gateway, event)
            return retried.status_code == 200 and retried.json()

        # the failed attempt left no delivery record: the retry is applied, not a duplicate
        outcome = await wait_for(retry_applied, within=30, interval=0.2)
        assert outcome == {"status": "applied", "invalidated": 1}
        assert (await post_square(gateway, event)).json()["status"] == "duplicate"


async def test_a_retry_hours_after_the_event_is_still_applied(gateway, sandbox, two_people):
    """Neither vendor signs a delivery time, and both keep the first one on retries (Square
    for up to 72 hours, Shopify 4): no 5-minute cut-off applies to them
    (docs/customer-profile.md "Timestamps")."""
    (alice, alice_pos, alice_shop, _), _ = two_people
    await cache_both(gateway, sandbox, two_people)
    hours_ago = datetime.now(UTC) - timedelta(hours=3)
    event = square_event(alice_pos.id)
    event["created_at"] = hours_ago.isoformat().replace("+00:00", "Z")
    raw = json.dumps(event).encode()
    square = await gateway.http.post(
        "/webhooks/square",
        content=raw,
        headers={
            "x-square-hmacsha256-signature": b64_hmac(SQUARE_KEY, SQUARE_URL.encode() + raw),
            "square-initial-delivery-timestamp": hours_ago.isoformat(),
            "square-retry-number": "5",
            "square-retry-reason": "http_error",
        },
    )
    assert square.json() == {"status": "applied", "invalidated": 1}

    await read_profile(gateway, alice.id)  # cached again
    payload = shopify_customer(alice_shop.id)
    raw = json.dumps(payload).encode()
    shopify = await gateway.http.post(
        "/webhooks/shopify",
        content=raw,
        headers={
            "x-shopify-topic": "customers/update",
            "x-shopify-webhook-id": str(uuid.uuid4()),
            "x-shopify-triggered-at": hours_ago.isoformat(),
            "x-shopify-hmac-sha256": b64_hmac(SHOPIFY_SECRET, raw),
        },
    )
    assert shopify.json() == {"status": "applied", "invalidated": 1}
    assert await crm_calls_to_read(gateway, sandbox, alice.id) >= 1


@pytest.mark.parametrize("secret", ["square_signature_key", "shopify_secret"])
def test_production_refuses_the_sandbox_webhook_secrets(secret):
    real = {"square_signature_key": "real-square", "shopify_secret": "real-shopify"}
    del real[secret]
    with pytest.raises(ValueError, match=f"webhooks.{secret}"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            env=Environment.PRODUCTION,
            square={"access_token": "real"},
            shopify={"access_token": "real"},
            salesforce={"client_secret": "real"},
            webhooks=real,
        )
