"""The HubSpot simulator on HubSpot's contract (its answers validated against the official
SDK's models), and the real adapter against it (no mocks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hubspot_models import error as validated_error
from hubspot_models import validated
from starlette.applications import Starlette

from connectors.errors import UpstreamRejected, UpstreamThrottled
from connectors.http import UpstreamHttp
from connectors.hubspot import HubSpotCrm, HubSpotSettings
from sandbox.dataset import Dataset, build_dataset
from sandbox.hubspot import SANDBOX_ACCESS_TOKEN, SANDBOX_CLIENT_SECRET, create_app
from sandbox.hubspot import hubspot_contacts as contacts_of
from sandbox.hubspot.envelope import TenSecondly

PUBLIC_URL = "http://hubspot.sandbox.test"
CONTACTS = "/crm/v3/objects/contacts"
AUTH = {"Authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}"}
CONTROL = "/_sandbox/hubspot"


@pytest.fixture
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


async def search(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post(f"{CONTACTS}/search", json=body, headers=AUTH)


async def batch_read(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post(f"{CONTACTS}/batch/read", json=body, headers=AUTH)


# -- the same people as the Salesforce simulator, under HubSpot's ids -----------------------


def test_every_salesforce_contact_is_a_hubspot_contact_under_another_id(data):
    contacts = contacts_of(data)
    assert [c.salesforce_id for c in contacts] == [c.id for c in data.crm_contacts]
    assert all(c.id.isdigit() for c in contacts)
    assert len({c.id for c in contacts}) == len(contacts)
    assert not {c.id for c in contacts} & {c.id for c in data.crm_contacts}
    assert contacts_of(data) == contacts  # deterministic for the seed


def test_emails_are_unique_lower_case_and_trimmed_as_hubspot_keeps_them(data):
    emails = [c.email for c in contacts_of(data) if c.email is not None]
    assert len(emails) == len(set(emails))
    assert all(e == e.strip().lower() for e in emails)
    # the dataset's CRM duplicates: the second contact kept its phone, not the email
    twice = [k for k, n in Counter(c.person_key for c in data.crm_contacts).items() if n == 2]
    second = [[c for c in contacts_of(data) if c.person_key == k][1] for k in twice]
    assert second
    assert all(c.email is None and c.phone for c in second)


# -- answers validated against the SDK's models --------------------------------------------


GOOD = {
    "id": "51",
    "properties": {"email": None},
    "createdAt": "2024-09-18T07:40:00.000Z",
    "updatedAt": "2024-09-18T07:40:00.000Z",
    "archived": False,
}


@pytest.mark.parametrize(
    "bad",
    [
        {k: v for k, v in GOOD.items() if k != "createdAt"},  # a required field missing
        {**GOOD, "Id": "51"},  # a field the model does not have
        {**GOOD, "archived": "no"},  # a field of another type
        {**GOOD, "properties": {"email": 5}},  # property values are strings
    ],
)
def test_the_model_check_refuses_what_hubspot_would_never_send(bad):
    validated(GOOD, "SimplePublicObject")
    with pytest.raises(AssertionError):
        validated(bad, "SimplePublicObject")


async def test_a_search_page_is_a_collection_response_with_total_and_forward_paging(http):
    response = await search(http, {"limit": 3, "properties": ["email", "phone"]})
    assert response.status_code == 200
    page = validated(response.json(), "CollectionResponseWithTotalSimplePublicObjectForwardPaging")
    assert page.total == len(build_dataset().crm_contacts)
    assert len(page.results) == 3
    assert page.paging.next.after == "3"
    first = response.json()["results"][0]
    validated(first, "SimplePublicObject")
    # the properties asked for, and the three HubSpot always adds
    assert set(first["properties"]) == {
        "email", "phone", "createdate", "lastmodifieddate", "hs_object_id",
    }  # fmt: skip
    assert first["properties"]["hs_object_id"] == first["id"]


async def test_after_pages_through_every_result_once_and_the_last_page_has_no_paging(http):
    body = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}]}
    seen: list[str] = []
    after = None
    while True:
        response = await search(http, {**body, "limit": 200, **({"after": after} if after else {})})
        page = response.json()
        seen += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert len(seen) == len(set(seen)) == page["total"]


async def test_a_batch_read_finding_all_is_a_batch_response(http, data):
    ids = [c.id for c in contacts_of(data)[:3]]
    response = await batch_read(
        http, {"inputs": [{"id": i} for i in ids], "properties": ["firstname"]}
    )
    assert response.status_code == 200
    answer = validated(response.json(), "BatchResponseSimplePublicObject")
    assert answer.status == "COMPLETE"
    assert sorted(r.id for r in answer.results) == sorted(ids)


async def test_a_batch_read_missing_some_is_207_with_object_not_found(http, data):
    known = contacts_of(data)[0].id
    response = await batch_read(http, {"inputs": [{"id": known}, {"id": "1"}], "properties": []})
    assert response.status_code == 207
    answer = validated(response.json(), "BatchResponseSimplePublicObjectWithErrors")
    assert [r.id for r in answer.results] == [known]
    [error] = answer.errors
    assert error.category == "OBJECT_NOT_FOUND"
    assert error.context == {"ids": ["1"]}


async def test_a_batch_read_by_email_matches_as_hubspot_stores_emails(http, data):
    contact = next(c for c in contacts_of(data) if c.email)
    response = await batch_read(
        http,
        {"inputs": [{"id": contact.email.upper()}], "idProperty": "email", "properties": []},
    )
    assert [r["id"] for r in response.json()["results"]] == [contact.id]


NO_SUCH_PROPERTY = {"propertyName": "nope", "operator": "EQ", "value": "x"}


@pytest.mark.parametrize(
    ("call", "body", "status", "category"),
    [
        ("batch", {"inputs": [{"id": str(i)} for i in range(101)]}, 400, "VALIDATION_ERROR"),
        ("batch", {"inputs": [{"id": "a"}], "idProperty": "phone"}, 400, "VALIDATION_ERROR"),
        ("search", {"limit": 201}, 400, "VALIDATION_ERROR"),
        ("search", {"limit": 100, "after": "9950"}, 400, "VALIDATION_ERROR"),
        ("search", {"filterGroups": [{"filters": []}] * 6}, 400, "VALIDATION_ERROR"),
        (
            "search",
            {"filterGroups": [{"filters": [NO_SUCH_PROPERTY]}]},
            400,
            "VALIDATION_ERROR",
        ),
    ],
)  # fmt: skip
async def test_requests_past_hubspot_s_caps_are_refused_with_its_error_envelope(
    http, call, body, status, category
):
    send = batch_read if call == "batch" else search
    response = await send(http, body)
    assert response.status_code == status
    error = validated_error(response.json())
    assert error.category == category
    assert error.correlation_id


async def test_a_wrong_token_is_invalid_authentication(http):
    response = await http.post(
        f"{CONTACTS}/search", json={}, headers={"Authorization": "Bearer pat-na1-wrong"}
    )
    assert response.status_code == 401
    assert validated_error(response.json()).category == "INVALID_AUTHENTICATION"


async def test_scripted_rate_limits_answer_429_with_the_policy_and_retry_after(http):
    scripted = await http.post(
        f"{CONTROL}/rate-limits",
        json={"policyName": "TEN_SECONDLY_ROLLING", "requests": 1, "retryAfter": "1"},
    )
    assert scripted.status_code == 200
    limited = await search(http, {})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    body = limited.json()
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["correlationId"]
    assert (await search(http, {})).status_code == 200  # only the scripted one


async def test_the_ten_secondly_window_limits_as_hubspot_does(app, http):
    now = [1000.0]
    app.state.hubspot_gate.ten_secondly = TenSecondly(3, clock=lambda: now[0])
    remaining = []
    for _ in range(3):
        answer = await search(http, {"limit": 1})
        assert answer.status_code == 200
        assert answer.headers["x-hubspot-ratelimit-max"] == "3"
        assert answer.headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
        remaining.append(answer.headers["x-hubspot-ratelimit-remaining"])
        now[0] += 1
    assert remaining == ["2", "1", "0"]
    limited = await search(http, {"limit": 1})  # the 4th within ten seconds
    assert limited.status_code == 429
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.headers["retry-after"] == "7"  # when the first leaves the window
    now[0] += 7
    assert (await search(http, {"limit": 1})).status_code == 200


# -- the adapter against the simulator ---------------------------------------------------


async def test_the_adapter_reads_contacts_by_id_in_batches_of_100(crm, app, data):
    contacts = contacts_of(data)[:250]
    found = await crm.customers_by_id([c.id for c in contacts] + ["1", "0035g00000w8dzWAAQ"])
    assert set(found) == {c.id for c in contacts}
    first = contacts[0]
    assert found[first.id].email == first.email
    assert found[first.id].email_opt_in is (first.hs_email_optout == "false")
    assert app.state.calls[f"POST {CONTACTS}/batch/read"] == 3


async def test_the_adapter_finds_by_email_and_by_either_phone_spelling(crm, data):
    person = next(c for c in contacts_of(data) if c.phone and c.phone.startswith("(") and c.email)
    e164 = next(p.phone for p in data.people if p.key == person.person_key)
    by_phone = await crm.find_customers([], [e164])
    assert person.id in {c.ref.id for c in by_phone}
    by_email = await crm.find_customers([person.email.upper()], [])
    assert [c.ref.id for c in by_email] == [person.id]


async def test_the_adapter_reads_changes_since_oldest_first(crm, http, data):
    contact = contacts_of(data)[5]
    edited = await http.post(f"{CONTROL}/contacts/{contact.id}", json={"firstname": "Renamed"})
    assert edited.status_code == 200
    changed = await crm.contacts_modified_since(datetime.now(UTC) - timedelta(minutes=1))
    assert [(c.ref.id, c.given_name) for c in changed] == [(contact.id, "Renamed")]


async def test_the_adapter_s_429_carries_the_policy_and_retry_after(crm, http):
    await http.post(
        f"{CONTROL}/rate-limits",
        json={"policyName": "TEN_SECONDLY_ROLLING", "requests": 1, "retryAfter": "2"},
    )
    with pytest.raises(UpstreamThrottled) as throttled:
        await crm.find_customers(["a@example.com"], [])
    assert throttled.value.retry_after == 2.0
    assert throttled.value.retryable
    assert "TEN_SECONDLY_ROLLING" in throttled.value.detail

    await http.post(f"{CONTROL}/rate-limits", json={"policyName": "DAILY", "requests": 1})
    with pytest.raises(UpstreamThrottled) as daily:
        await crm.find_customers(["a@example.com"], [])
    assert not daily.value.retryable  # the daily limit lasts until midnight


async def test_a_refused_token_is_a_rejection_naming_the_category(http):
    upstream = UpstreamHttp(http, service="hubspot", base_url=PUBLIC_URL)
    crm = HubSpotCrm(upstream, HubSpotSettings(base_url=PUBLIC_URL, access_token="wrong"))
    with pytest.raises(UpstreamRejected) as refused:
        await crm.customers_by_id(["100008487"])
    assert refused.value.status == 401
    assert "INVALID_AUTHENTICATION" in refused.value.detail


# -- the signed webhook a contact change makes --------------------------------------------


async def test_an_edit_makes_a_signed_property_change_webhook(http, data):
    contact = contacts_of(data)[7]
    answer = (
        await http.post(f"{CONTROL}/contacts/{contact.id}", json={"lastname": "Moreau"})
    ).json()
    validated(answer["contact"], "SimplePublicObject")
    assert answer["contact"]["properties"]["lastname"] == "Moreau"
    webhook = answer["webhook"]
    assert "status" not in webhook  # no target set: made, not sent
    body, headers = webhook["body"].encode(), webhook["headers"]
    [event] = json.loads(body)
    assert event["subscriptionType"] == "contact.propertyChange"
    assert event["objectId"] == int(contact.id)
    assert (event["propertyName"], event["propertyValue"]) == ("lastname", "Moreau")
    # signature v3, computed here with the standard library
    timestamp = headers["x-hubspot-request-timestamp"]
    message = b"POST" + webhook["url"].encode() + body + timestamp.encode()
    expected = hmac.new(SANDBOX_CLIENT_SECRET.encode(), message, hashlib.sha256).digest()
    assert headers["x-hubspot-signature-v3"] == base64.b64encode(expected).decode()
