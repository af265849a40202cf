"""What the HubSpot adapter sends (each body validated against the official SDK's request
models) and how it reads HubSpot's answers, its rate-limit answers included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from hubspot_models import search_request, validated

from connectors.errors import UpstreamRejected, UpstreamThrottled, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.hubspot import HubSpotCrm, HubSpotSettings
from connectors.resilience import ResilienceSettings, UpstreamPolicy

API = "https://api.hubapi.com"
SEARCH = f"{API}/crm/v3/objects/contacts/search"
BATCH = f"{API}/crm/v3/objects/contacts/batch/read"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
PROPERTIES = [
    "firstname", "lastname", "email", "phone", "mobilephone", "hs_email_optout",
    "createdate", "lastmodifieddate",
]  # fmt: skip


def contact(record_id: str, **properties: str | None) -> dict[str, Any]:
    values: dict[str, str | None] = {
        "firstname": "Ava",
        "lastname": "Smith",
        "email": "ava.smith0@example.com",
        "phone": "(212) 500-0000",
        "mobilephone": None,
        "hs_email_optout": "false",
        "createdate": "2024-09-18T07:40:00.000Z",
        "lastmodifieddate": "2024-10-01T09:00:00.123Z",
        "hs_object_id": record_id,
        **properties,
    }
    return {
        "id": record_id,
        "properties": values,
        "createdAt": "2024-09-18T07:40:00.000Z",
        "updatedAt": "2024-10-01T09:00:00.123Z",
        "archived": False,
    }


def batch_answer(*records: dict[str, Any], missing: list[str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": list(records),
        "startedAt": "2024-10-01T09:00:00.000Z",
        "completedAt": "2024-10-01T09:00:00.050Z",
    }
    if not missing:
        validated(body, "BatchResponseSimplePublicObject")
        return httpx.Response(200, json=body)
    body["numErrors"] = 1
    body["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
            "context": {"ids": missing},
            "links": {},
            "errors": [],
        }
    ]
    validated(body, "BatchResponseSimplePublicObjectWithErrors")
    return httpx.Response(207, json=body)


def search_page(*records: dict[str, Any], after: str | None = None, total: int = 0) -> Any:
    page: dict[str, Any] = {"total": total or len(records), "results": list(records)}
    if after is not None:
        page["paging"] = {"next": {"after": after, "link": f"{SEARCH}?after={after}"}}
    validated(page, "CollectionResponseWithTotalSimplePublicObjectForwardPaging")
    return page


def rate_limited(policy: str, retry_after: str | None = None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(
        429,
        headers=headers,
        json={
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
            "policyName": policy,
            "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
        },
    )


def sent(route: respx.Route, call: int = 0) -> dict[str, Any]:
    request = route.calls[call].request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(request.content)
    return body


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def adapter(client: httpx.AsyncClient, policy: UpstreamPolicy | None = None) -> HubSpotCrm:
    upstream = UpstreamHttp(client, service="hubspot", base_url=API, policy=policy)
    return HubSpotCrm(upstream, HubSpotSettings(base_url=API, access_token=TOKEN))


# -- by id: batch reads of at most 100 -------------------------------------------------


async def test_contacts_by_id_are_batch_reads_of_at_most_100(api, client):
    route = api.post(BATCH).mock(
        side_effect=lambda request: batch_answer(
            *[contact(i["id"]) for i in json.loads(request.content)["inputs"]]
        )
    )
    ids = [str(1000 + n) for n in range(230)]
    found = await adapter(client).customers_by_id([*ids, ids[0], "003xx0000000001AAA", ""])
    assert set(found) == set(ids)
    bodies = [sent(route, n) for n in range(route.call_count)]
    assert sorted(len(b["inputs"]) for b in bodies) == [30, 100, 100]
    for body in bodies:
        validated(body, "BatchReadInputSimplePublicObjectId")
        assert body["properties"] == PROPERTIES
        assert "idProperty" not in body
    assert route.calls[0].request.url.params == httpx.QueryParams()


async def test_an_id_hubspot_does_not_know_is_absent_not_an_error(api, client):
    api.post(BATCH).mock(return_value=batch_answer(contact("51"), missing=["52"]))
    found = await adapter(client).customers_by_id(["51", "52"])
    assert list(found) == ["51"]
    ava = found["51"]
    assert (ava.given_name, ava.email, ava.phone) == (
        "Ava",
        "ava.smith0@example.com",
        "(212) 500-0000",
    )
    assert ava.email_opt_in is True
    assert ava.updated_at == datetime(2024, 10, 1, 9, 0, 0, 123000, tzinfo=UTC)


async def test_no_ids_no_call(api, client):
    route = api.post(BATCH)
    assert await adapter(client).customers_by_id(["not-a-hubspot-id"]) == {}
    assert not route.called


# -- by email (batch read, idProperty=email) and by phone (search) -------------------------


async def test_emails_are_a_batch_read_by_email_and_phones_a_search_of_both_spellings(api, client):
    batch = api.post(BATCH).mock(return_value=batch_answer(contact("51")))
    search = api.post(SEARCH).mock(
        return_value=httpx.Response(200, json=search_page(contact("51"), contact("77")))
    )
    found = await adapter(client).find_customers([" Ava.Smith0@Example.com "], ["+12125000000"])
    assert sorted(c.ref.id for c in found) == ["51", "77"]
    by_email = sent(batch)
    validated(by_email, "BatchReadInputSimplePublicObjectId")
    assert by_email["idProperty"] == "email"
    assert by_email["inputs"] == [{"id": "ava.smith0@example.com"}]
    by_phone = sent(search)
    search_request(by_phone)
    spellings = ["+12125000000", "(212) 500-0000"]
    assert by_phone["filterGroups"] == [
        {"filters": [{"propertyName": name, "operator": "IN", "values": spellings}]}
        for name in ("phone", "mobilephone")
    ]
    assert by_phone["limit"] == 200
    assert by_phone["properties"] == PROPERTIES


async def test_many_phones_split_into_searches_of_100_values_each(api, client):
    search = api.post(SEARCH).mock(return_value=httpx.Response(200, json=search_page()))
    phones = [f"+1212500{n:04d}" for n in range(60)]  # 120 spellings
    await adapter(client).find_customers([], phones)
    sizes = sorted(
        len(sent(search, n)["filterGroups"][0]["filters"][0]["values"]) for n in range(2)
    )
    assert (search.call_count, sizes) == (2, [20, 100])


async def test_a_search_follows_after_to_its_last_page(api, client):
    search = api.post(SEARCH).mock(
        side_effect=[
            httpx.Response(200, json=search_page(contact("1"), after="200", total=3)),
            httpx.Response(200, json=search_page(contact("2"), after="400", total=3)),
            httpx.Response(200, json=search_page(contact("3"), total=3)),
        ]
    )
    found = await adapter(client).find_customers([], ["+12125000000"])
    assert [c.ref.id for c in found] == ["1", "2", "3"]
    assert [sent(search, n).get("after") for n in range(3)] == [None, "200", "400"]


async def test_a_repeated_after_is_the_upstream_s_failure_not_a_loop(api, client):
    api.post(SEARCH).mock(
        return_value=httpx.Response(200, json=search_page(contact("1"), after="200"))
    )
    with pytest.raises(UpstreamUnavailable, match="repeated"):
        await adapter(client).find_customers([], ["+12125000000"])


# -- by change time --------------------------------------------------------------------


async def test_changes_since_are_a_lastmodifieddate_search_oldest_first(api, client):
    search = api.post(SEARCH).mock(return_value=httpx.Response(200, json=search_page(contact("9"))))
    since = datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)
    changed = await adapter(client).contacts_modified_since(since)
    assert [c.ref.id for c in changed] == ["9"]
    body = sent(search)
    search_request(body)
    millis = str(int(since.timestamp() * 1000))
    assert body["filterGroups"] == [
        {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": millis}]}
    ]
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]


async def test_changes_stop_at_the_10000_a_search_can_page_through(api, client):
    search = api.post(SEARCH).mock(
        return_value=httpx.Response(
            200, json=search_page(contact("9"), after="10000", total=12_000)
        )
    )
    assert len(await adapter(client).contacts_modified_since(datetime.now(UTC))) == 1
    assert search.call_count == 1


# -- failures: the envelope, and the rate limits honoured ---------------------------------


async def test_an_error_answer_names_category_message_and_correlation_id(api, client):
    api.post(BATCH).mock(
        return_value=httpx.Response(
            401,
            json={
                "status": "error",
                "message": "Authentication credentials not found.",
                "correlationId": "8f2b2f46-7c77-4e27-9c58-0ec3a6f3f0c5",
                "category": "INVALID_AUTHENTICATION",
            },
        )
    )
    with pytest.raises(UpstreamRejected) as refused:
        await adapter(client).customers_by_id(["51"])
    assert refused.value.status == 401
    assert refused.value.detail == (
        "HTTP 401: INVALID_AUTHENTICATION: Authentication credentials not found. "
        "(correlationId 8f2b2f46-7c77-4e27-9c58-0ec3a6f3f0c5)"
    )


async def test_a_ten_secondly_429_is_retried_after_its_retry_after(api, client, monkeypatch):
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("connectors.resilience.policy.asyncio.sleep", no_wait)
    route = api.post(BATCH).mock(
        side_effect=[rate_limited("TEN_SECONDLY_ROLLING", "3"), batch_answer(contact("51"))]
    )
    policy = UpstreamPolicy("hubspot", ResilienceSettings(deadline_seconds=30))
    found = await adapter(client, policy).customers_by_id(["51"])
    assert list(found) == ["51"]
    assert route.call_count == 2
    [wait] = waits
    assert 3.0 <= wait <= 3.0 + policy.settings.backoff_base_seconds


async def test_a_daily_429_is_not_retried(api, client):
    route = api.post(BATCH).mock(return_value=rate_limited("DAILY"))
    policy = UpstreamPolicy("hubspot", ResilienceSettings(deadline_seconds=30))
    with pytest.raises(UpstreamThrottled) as throttled:
        await adapter(client, policy).customers_by_id(["51"])
    assert route.call_count == 1
    assert not throttled.value.retryable
    assert "DAILY" in throttled.value.detail


async def test_a_429_whose_wait_outlasts_the_deadline_is_not_waited_for(api, client):
    route = api.post(BATCH).mock(return_value=rate_limited("SECONDLY", "60"))
    policy = UpstreamPolicy("hubspot", ResilienceSettings(deadline_seconds=5))
    with pytest.raises(UpstreamThrottled) as throttled:
        await adapter(client, policy).customers_by_id(["51"])
    assert route.call_count == 1
    assert throttled.value.retry_after == 60.0
