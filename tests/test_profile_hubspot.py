"""HubSpot as the CRM, through the gateway over loopback and a real mongod: HubSpot's signed
webhooks (signature v3, 5-minute window) invalidate the cached profile, the poll picks up
changes when no webhook comes, and HubSpot's 429s are honoured: retried after Retry-After,
or the field's error once the retries run out.

The profile tests every CRM passes are tests/test_customers.py, test_profile_cache.py and
test_profile_degraded.py (each run over both); here is what HubSpot does that Salesforce
does not. One named difference of the dataset: HubSpot keeps emails unique, so
a person the CRM knows twice conflicts on the phone only (sandbox/hubspot/contacts.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import bearer
from live_server import serving
from profile_support import ME, database_of, edited_contact, profiles_of, wait_for

from gateway.app import create_app
from gateway.settings import Environment, Settings
from sandbox.dataset import Dataset
from sandbox.hubspot import SANDBOX_CLIENT_SECRET, HubSpotContact, hubspot_contacts
from sandbox.hubspot.app import DEFAULT_WEBHOOK_URL

CONTROL = "/_sandbox/hubspot"
BATCH_READ = "POST /crm/v3/objects/contacts/batch/read"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """HubSpot as the CRM; its webhooks signed over the URL the simulator's app is set to
    call (as behind a proxy, where the URL the gateway sees is not the one signed)."""
    return settings.with_changes(
        adapters={**settings.adapters.model_dump(), "crm": "hubspot"},
        webhooks={**settings.webhooks.model_dump(), "hubspot_webhook_url": DEFAULT_WEBHOOK_URL},
    )


@pytest.fixture
def contact(dataset: Dataset) -> HubSpotContact:
    """A person HubSpot knows once, with an email and a phone."""
    contacts = hubspot_contacts(dataset)
    counts = Counter(c.person_key for c in contacts)
    return next(c for c in reversed(contacts) if c.email and c.phone and counts[c.person_key] == 1)


@pytest.fixture
async def profiles(settings: Settings) -> AsyncIterator[Any]:
    async with database_of(settings) as database:
        yield profiles_of(database)


def edited(sandbox: Any, contact: HubSpotContact, **properties: str) -> Any:
    """Edit a contact in the simulator as a user would; its answer holds the webhook request
    HubSpot would send. The old values are put back after."""
    old = {name: getattr(contact, name) for name in properties}
    url = f"{sandbox.url('hubspot')}{CONTROL}/contacts/{contact.id}"
    return edited_contact(url, properties, old)


def signed_at(webhook: dict[str, Any], timestamp_ms: int) -> dict[str, str]:
    """The delivery's headers re-signed (with the standard library) at another time."""
    body, timestamp = webhook["body"].encode(), str(timestamp_ms)
    message = b"POST" + webhook["url"].encode() + body + timestamp.encode()
    digest = hmac.new(SANDBOX_CLIENT_SECRET.encode(), message, hashlib.sha256).digest()
    return {
        **webhook["headers"],
        "x-hubspot-request-timestamp": timestamp,
        "x-hubspot-signature-v3": base64.b64encode(digest).decode(),
    }


async def deliver(gateway: Any, webhook: dict[str, Any], headers: dict[str, str] | None = None):
    return await gateway.http.post(
        "/webhooks/hubspot", content=webhook["body"].encode(), headers=headers or webhook["headers"]
    )


async def test_me_reads_the_profile_from_hubspot(gateway, tokens, sandbox, contact):
    body = await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    assert body == {
        "data": {"me": {**body["data"]["me"], "id": contact.id, "givenName": contact.firstname}}
    }
    assert sandbox.calls("hubspot")[BATCH_READ] >= 1
    assert sandbox.total_calls("salesforce") == 0


# -- webhooks --------------------------------------------------------------------------


async def test_a_signed_property_change_invalidates_the_cached_profile_once(
    gateway, tokens, sandbox, contact, profiles
):
    headers = bearer(tokens.customer(contact.id))
    await gateway.query(ME, headers=headers)
    with edited(sandbox, contact, firstname="Renamed") as change:
        response = await deliver(gateway, change["webhook"])
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "applied", "invalidated": 1}
        document = await profiles.find_one({"_id": contact.id})
        assert document["invalidated_at"] is not None
        after = await gateway.query(ME, headers=headers)
        assert after["data"]["me"]["givenName"] == "Renamed"
        # HubSpot retries a request it saw fail with the same events: applied once
        again = await deliver(gateway, change["webhook"])
        assert again.json() == {"status": "duplicate", "invalidated": 0}


@pytest.mark.parametrize(
    "tamper",
    ["signature", "body", "missing timestamp", "six minutes old", "six minutes ahead"],
)
async def test_a_delivery_that_does_not_prove_itself_is_refused_and_changes_nothing(
    gateway, tokens, sandbox, contact, profiles, tamper
):
    await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    with edited(sandbox, contact, lastname="Tampered") as change:
        webhook = dict(change["webhook"])
        headers = dict(webhook["headers"])
        now = int(time.time() * 1000)
        if tamper == "signature":
            headers["x-hubspot-signature-v3"] = signed_at(webhook, now)["x-hubspot-signature-v3"][
                ::-1
            ]
        elif tamper == "body":
            webhook["body"] = webhook["body"].replace("Tampered", "Tempered")
        elif tamper == "missing timestamp":
            del headers["x-hubspot-request-timestamp"]
        else:
            sign = -1 if tamper == "six minutes old" else 1
            headers = signed_at(webhook, now + sign * 6 * 60 * 1000)
        response = await deliver(gateway, webhook, headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    document = await profiles.find_one({"_id": contact.id})
    assert "invalidated_at" not in document


def signed_request(events: Any) -> tuple[bytes, dict[str, str]]:
    """A delivery of `events` signed now as HubSpot signs (the standard library's HMAC)."""
    body = json.dumps(events).encode()
    webhook = {"url": DEFAULT_WEBHOOK_URL, "body": body.decode(), "headers": {}}
    headers = signed_at(webhook, int(time.time() * 1000))
    return body, {**headers, "content-type": "application/json"}


def event(kind: str, event_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 62515,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": kind,
        "attemptNumber": 0,
        **fields,
    }


async def test_a_merge_invalidates_every_contact_it_names_and_other_objects_nothing(
    gateway, tokens, dataset, profiles
):
    contacts = hubspot_contacts(dataset)
    kept, merged, untouched = contacts[20], contacts[21], contacts[22]
    for contact in (kept, merged, untouched):
        await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    body, headers = signed_request(
        [
            event(
                "contact.merge",
                9001,
                objectId=int(kept.id),
                primaryObjectId=int(kept.id),
                mergedObjectIds=[int(merged.id)],
                newObjectId=int(kept.id),
            ),
            event("company.propertyChange", 9002, objectId=int(untouched.id)),
        ]
    )
    response = await gateway.http.post("/webhooks/hubspot", content=body, headers=headers)
    assert response.json() == {"status": "applied", "invalidated": 2}
    invalidated = {
        d["_id"] async for d in profiles.find({"invalidated_at": {"$exists": True}}, {"_id": 1})
    }
    assert invalidated == {kept.id, merged.id}


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([{"subscriptionType": "contact.creation", "objectId": 51}], "eventId missing"),
        ({"eventId": 1, "objectId": 51}, "body is not a JSON array of events"),
        ([], "eventId missing"),
    ],
)
async def test_a_signed_body_that_is_not_a_batch_of_events_is_400(gateway, events, problem):
    body, headers = signed_request(events)
    response = await gateway.http.post("/webhooks/hubspot", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": problem}


async def test_a_delivery_signed_four_minutes_ago_is_within_the_window(
    gateway, tokens, sandbox, contact
):
    await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    with edited(sandbox, contact, firstname="Late") as change:
        webhook = change["webhook"]
        headers = signed_at(webhook, int(time.time() * 1000) - 4 * 60 * 1000)
        response = await deliver(gateway, webhook, headers)
    assert response.json() == {"status": "applied", "invalidated": 1}


def test_the_simulator_delivers_its_webhook_to_a_gateway_on_loopback(
    settings, tokens, sandbox, contact
):
    # no URL configured: the gateway checks the signature over the URL it was called at
    plain = settings.with_changes(
        webhooks={**settings.webhooks.model_dump(), "hubspot_webhook_url": None}
    )
    target = f"{sandbox.url('hubspot')}{CONTROL}/webhooks"
    with serving(create_app(plain)) as url:
        headers = bearer(tokens.customer(contact.id))
        first = httpx.post(f"{url}/graphql", json={"query": ME}, headers=headers, timeout=10)
        assert first.json()["data"]["me"]["givenName"] == contact.firstname
        assert httpx.put(target, json={"targetUrl": f"{url}/webhooks/hubspot"}).status_code == 200
        try:
            with edited(sandbox, contact, firstname="Delivered") as change:
                assert change["webhook"]["status"] == 200
                after = httpx.post(
                    f"{url}/graphql", json={"query": ME}, headers=headers, timeout=10
                )
                assert after.json()["data"]["me"]["givenName"] == "Delivered"
        finally:
            httpx.put(target, json={"targetUrl": None})


# -- the polling fallback ----------------------------------------------------------------


async def test_the_poll_picks_up_a_change_no_webhook_reported(
    settings, make_gateway, tokens, sandbox, contact, profiles
):
    polling = settings.with_changes(
        cache={**settings.cache.model_dump(), "crm_poll": True, "crm_poll_interval_seconds": 0.1}
    )
    headers = bearer(tokens.customer(contact.id))
    async with make_gateway(polling) as gateway:
        await gateway.query(ME, headers=headers)
        marks = profiles.database["sync_marks"]
        await wait_for(lambda: marks.find_one({"_id": "hubspot.contacts"}))  # polling HubSpot
        with edited(sandbox, contact, firstname="Polled"):  # its webhook sent nowhere

            async def invalidated() -> Any:
                document = await profiles.find_one({"_id": contact.id})
                return document.get("invalidated_at")

            await wait_for(invalidated)
            after = await gateway.query(ME, headers=headers)
            assert after["data"]["me"]["givenName"] == "Polled"


# -- HubSpot's rate limits -----------------------------------------------------------------


def script_rate_limits(sandbox: Any, policy: str, requests: int, retry_after: str | None) -> None:
    body = {"policyName": policy, "requests": requests, "retryAfter": retry_after}
    response = httpx.post(f"{sandbox.url('hubspot')}{CONTROL}/rate-limits", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture
def no_rate_limits(sandbox: Any) -> Iterator[None]:
    yield
    script_rate_limits(sandbox, "SECONDLY", 0, None)


async def test_a_ten_secondly_429_is_waited_out_and_the_profile_answered(
    gateway, tokens, sandbox, contact, no_rate_limits
):
    script_rate_limits(sandbox, "TEN_SECONDLY_ROLLING", 1, "1")
    body = await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    assert body == {"data": {"me": {**body["data"]["me"], "givenName": contact.firstname}}}
    # by id refused once then read, then by email: the 429 cost one call more, no error
    assert sandbox.calls("hubspot")[BATCH_READ] == 3, sandbox.calls("hubspot")


@pytest.mark.parametrize(
    ("policy", "requests", "calls"),
    [("SECONDLY", 10, 3), ("DAILY", 1, 1)],
    ids=["retries-run-out", "daily-limit-not-retried"],
)
async def test_a_429_that_outlasts_the_retries_is_the_field_s_error(
    gateway, tokens, sandbox, contact, no_rate_limits, policy, requests, calls
):
    script_rate_limits(sandbox, policy, requests, "0")
    body = await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    assert body["data"] == {"me": None}
    [error] = body["errors"]
    assert error["path"] == ["me"]
    assert error["extensions"] == {"code": "UPSTREAM_THROTTLED", "service": "hubspot"}
    assert sandbox.calls("hubspot")[BATCH_READ] == calls  # the first try and two retries


# -- the named difference: duplicates conflict on the phone only ---------------------------

CONFLICTS = """
query ($id: ID!) {
  customer(id: $id) { id externalRefs { system id } identityConflicts { field value contactIds } }
}
"""


async def test_a_person_known_twice_conflicts_on_the_phone_hubspot_keeps_emails_unique(
    gateway, tokens, dataset
):
    contacts = hubspot_contacts(dataset)
    counts = Counter(c.person_key for c in contacts)
    first, second = next(
        [c for c in contacts if c.person_key == key]
        for key, n in counts.items()
        if n == 2 and len({c.phone for c in contacts if c.person_key == key}) == 1
    )
    staff = bearer(tokens.staff(dataset.stores[0].id))
    body = await gateway.query(CONFLICTS, {"id": first.id}, headers=staff)
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    conflicts = {c["field"]: c for c in customer["identityConflicts"]}
    assert set(conflicts) == {"PHONE"}
    assert conflicts["PHONE"]["contactIds"] == sorted([first.id, second.id])
    assert [r["id"] for r in customer["externalRefs"] if r["system"] == "HUBSPOT"] == [first.id]


# -- production settings ----------------------------------------------------------------


def test_production_refuses_hubspot_s_sandbox_secrets_only_where_hubspot_is_the_crm():
    from production_secrets import PRODUCTION_SECRETS

    real_idp = {"issuer": "https://login.retailer.example/", "audience": "omnigate"}
    production = {
        **PRODUCTION_SECRETS,
        "env": Environment.PRODUCTION,
        "auth": real_idp,
        "_env_file": None,
    }
    Settings(**production)  # Salesforce as the CRM: HubSpot's placeholders are not used
    hubspot = {**production, "adapters": {"crm": "hubspot"}}
    with pytest.raises(ValueError, match=r"hubspot\.access_token, webhooks\.hubspot_client_secret"):
        Settings(**hubspot)
    Settings(
        **{
            **hubspot,
            "hubspot": {"access_token": "pat-na1-real"},
            "webhooks": {**PRODUCTION_SECRETS["webhooks"], "hubspot_client_secret": "real"},
        }
    )


async def test_without_hubspot_as_the_crm_its_route_is_not_there(make_gateway, settings):
    on_salesforce = settings.with_changes(
        adapters={**settings.adapters.model_dump(), "crm": "salesforce"}
    )
    body, headers = signed_request([event("contact.deletion", 7, objectId=51)])
    async with make_gateway(on_salesforce) as gateway:
        response = await gateway.http.post("/webhooks/hubspot", content=body, headers=headers)
    assert response.status_code == 404


def test_the_contacts_a_batch_of_events_concerns():
    from gateway.webhooks import hubspot_contact_ids, hubspot_delivery_id

    events = [
        event("contact.propertyChange", 1, objectId=51, propertyName="email"),
        event("contact.deletion", 2, objectId=52),
        event("object.propertyChange", 3, objectId=53, objectTypeId="0-1"),
        event("object.propertyChange", 4, objectId=54, objectTypeId="0-2"),  # a company
        event("deal.creation", 5, objectId=55),
        event("contact.creation", 6, objectId="56"),  # not HubSpot's shape: a number
    ]
    assert hubspot_contact_ids(events) == {"51", "52", "53"}
    # a retry carries the same events, attemptNumber counting up: the same delivery
    retried = [{**e, "attemptNumber": 1} for e in reversed(events)]
    assert hubspot_delivery_id(retried) == hubspot_delivery_id(events)
    assert hubspot_delivery_id(events[:2]) != hubspot_delivery_id(events)
