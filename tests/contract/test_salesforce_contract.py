"""What the Salesforce adapter sends and how it reads answers, against recorded vendor shapes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from connectors.errors import (
    UpstreamError,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp
from connectors.salesforce import SalesforceCrm, SalesforceSettings

LOGIN = "https://login.example.test"
INSTANCE = "https://acme.my.example.test"
DATA = f"{INSTANCE}/services/data/v67.0"
FIELDS = (
    "Id,FirstName,LastName,Email,Phone,MobilePhone,HasOptedOutOfEmail,CreatedDate,LastModifiedDate"
)
SELECT = f"SELECT {FIELDS.replace(',', ', ')} FROM Contact"


def _token(value: str = "00Dxx!first") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": value,
            "signature": "c2ln",
            "scope": "api",
            "instance_url": INSTANCE,
            "id": f"{LOGIN}/id/00Dxx0000000001EAA/005xx0000000001AAA",
            "token_type": "Bearer",
            "issued_at": "1793534400000",
        },
    )


def _contact(contact_id: str, **fields: object) -> dict[str, object]:
    return {
        "attributes": {
            "type": "Contact",
            "url": f"/services/data/v67.0/sobjects/Contact/{contact_id}",
        },
        "Id": contact_id,
        "FirstName": "Ava",
        "LastName": "Smith",
        "Email": " Ava.Smith0@Example.com ",
        "Phone": "(212) 500-0000",
        "MobilePhone": None,
        "HasOptedOutOfEmail": False,
        "CreatedDate": "2024-09-18T07:40:00.000+0000",
        "LastModifiedDate": "2025-01-02T03:04:05.000+0000",
        **fields,
    }


def _errors(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json=[{"message": message, "errorCode": code}])


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mocked:
        mocked.post(f"{LOGIN}/services/oauth2/token", name="token").mock(return_value=_token())
        yield mocked


def _settings() -> SalesforceSettings:
    return SalesforceSettings(
        login_url=LOGIN, client_id="cid", client_secret="s3cret&=", api_version="v67.0"
    )


@pytest.fixture
async def crm(router: respx.MockRouter) -> AsyncIterator[SalesforceCrm]:
    async with httpx.AsyncClient() as client:
        http = UpstreamHttp(client, service="salesforce", base_url=LOGIN)
        yield SalesforceCrm(http, _settings())


def _soql(request: httpx.Request) -> str:
    return parse_qs(request.url.query.decode())["q"][0]


# --- request shape ----------------------------------------------------------------------------


async def test_token_request_is_a_form_encoded_client_credentials_grant(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router.get(f"{DATA}/composite/sobjects/Contact").mock(
        return_value=httpx.Response(200, json=[None])
    )
    await crm.customers_by_id(["003xx000004TmiQAAS"])
    request = router["token"].calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["cid"],
        "client_secret": ["s3cret&="],
    }


async def test_contacts_by_id_is_a_composite_get_on_the_instance_with_the_bearer_token(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    route = router.get(f"{DATA}/composite/sobjects/Contact").mock(
        return_value=httpx.Response(200, json=[_contact("003xx000004TmiQAAS"), None])
    )
    found = await crm.customers_by_id(["003xx000004TmiQAAS", "003xx000004TmiZAAS"])
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer 00Dxx!first"
    assert request.url.params["ids"] == "003xx000004TmiQAAS,003xx000004TmiZAAS"
    assert request.url.params["fields"] == FIELDS
    assert list(found) == ["003xx000004TmiQAAS"]
    identity = found["003xx000004TmiQAAS"]
    assert identity.ref.system == "SALESFORCE"
    assert identity.email == " Ava.Smith0@Example.com "  # as stored: matching is not ours here
    assert identity.phone == "(212) 500-0000"
    assert identity.email_opt_in is True
    assert identity.created_at == datetime(2024, 9, 18, 7, 40, tzinfo=UTC)


async def test_250_ids_are_read_in_two_calls_of_at_most_200(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["ids"].split(",")
        return httpx.Response(200, json=[_contact(i) for i in ids])

    route = router.get(f"{DATA}/composite/sobjects/Contact").mock(side_effect=answer)
    ids = [f"003xx{n:010d}AAA" for n in range(250)]
    found = await crm.customers_by_id([*ids, ids[0], ""])  # duplicates and blanks asked once
    sizes = sorted(len(c.request.url.params["ids"].split(",")) for c in route.calls)
    assert sizes == [50, 200]
    assert list(found) == ids


async def test_find_customers_is_one_query_with_both_phone_spellings(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    route = router.get(f"{DATA}/query").mock(
        return_value=httpx.Response(
            200, json={"totalSize": 1, "done": True, "records": [_contact("003xx000004TmiQAAS")]}
        )
    )
    found = await crm.find_customers(["ava@example.com"], ["+12125000000", "+442071234567"])
    assert route.call_count == 1
    assert _soql(route.calls.last.request) == (
        f"{SELECT} WHERE Email IN ('ava@example.com')"
        " OR Phone IN ('+12125000000', '(212) 500-0000', '+442071234567')"
        " OR MobilePhone IN ('+12125000000', '(212) 500-0000', '+442071234567')"
    )
    assert [f.ref.id for f in found] == ["003xx000004TmiQAAS"]


async def test_every_literal_is_escaped(crm: SalesforceCrm, router: respx.MockRouter) -> None:
    route = router.get(f"{DATA}/query").mock(
        return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
    )
    await crm.find_customers(["o'brien@example.com", "back\\slash'); --@x.test", 'a"b\n'], [])
    assert _soql(route.calls.last.request) == (
        f"{SELECT} WHERE Email IN "
        "('o\\'brien@example.com', 'back\\\\slash\\'); --@x.test', 'a\\\"b\\n')"
    )


async def test_many_terms_are_split_only_when_the_uri_budget_forces_it(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    route = router.get(f"{DATA}/query").mock(
        return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
    )
    emails = [f"customer.number{n:05d}@example.com" for n in range(600)]
    await crm.find_customers(emails, [])
    queries = [_soql(call.request) for call in route.calls]
    assert len(queries) > 1
    assert all(len(str(call.request.url)) < 16_384 for call in route.calls)
    asked = [e for q in queries for e in emails if f"'{e}'" in q]
    assert sorted(asked) == sorted(emails)  # each email in exactly one statement


async def test_modified_since_is_an_inclusive_utc_datetime_literal_in_change_order(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    route = router.get(f"{DATA}/query").mock(
        return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
    )
    since = datetime(2026, 10, 31, 20, 30, 15, 999_000, tzinfo=timezone(timedelta(hours=-4)))
    await crm.contacts_modified_since(since)
    assert _soql(route.calls.last.request) == (
        f"{SELECT} WHERE LastModifiedDate >= 2026-11-01T00:30:15Z"
        " ORDER BY LastModifiedDate ASC, Id ASC"
    )


async def test_next_records_url_is_followed_on_the_instance(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router.get(f"{DATA}/query").mock(
        return_value=httpx.Response(
            200,
            json={
                "totalSize": 3,
                "done": False,
                "nextRecordsUrl": "/services/data/v67.0/query/01gxx0000000001AAA-2",
                "records": [_contact("003xx0000000001AAA"), _contact("003xx0000000002AAA")],
            },
        )
    )
    more = router.get(f"{DATA}/query/01gxx0000000001AAA-2").mock(
        return_value=httpx.Response(
            200, json={"totalSize": 3, "done": True, "records": [_contact("003xx0000000003AAA")]}
        )
    )
    changed = await crm.contacts_modified_since(datetime(2026, 1, 1, tzinfo=UTC))
    assert [c.ref.id for c in changed] == [f"003xx000000000{n}AAA" for n in (1, 2, 3)]
    assert more.calls.last.request.headers["authorization"] == "Bearer 00Dxx!first"


# --- the shared session -----------------------------------------------------------------------


async def test_twenty_concurrent_first_calls_fetch_one_token(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    async def slow_token(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # keep the fetch in flight while the others arrive
        return _token()

    router["token"].mock(side_effect=slow_token)
    router.get(f"{DATA}/composite/sobjects/Contact").mock(
        return_value=httpx.Response(200, json=[None])
    )
    await asyncio.gather(*(crm.customers_by_id([f"003xx{n:010d}AAA"]) for n in range(20)))
    assert router["token"].call_count == 1


async def test_invalid_session_renews_the_token_once_and_retries(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router["token"].mock(side_effect=[_token("00Dxx!first"), _token("00Dxx!second")])
    route = router.get(f"{DATA}/composite/sobjects/Contact").mock(
        side_effect=[
            _errors(401, "INVALID_SESSION_ID", "Session expired or invalid"),
            httpx.Response(200, json=[_contact("003xx000004TmiQAAS")]),
        ]
    )
    found = await crm.customers_by_id(["003xx000004TmiQAAS"])
    assert list(found) == ["003xx000004TmiQAAS"]
    assert router["token"].call_count == 2
    auth = [call.request.headers["authorization"] for call in route.calls]
    assert auth == ["Bearer 00Dxx!first", "Bearer 00Dxx!second"]


async def test_concurrent_rejections_renew_the_token_once(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router["token"].mock(side_effect=[_token("00Dxx!first"), _token("00Dxx!second")])

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)  # all five are in flight before the first rejection lands
        if request.headers["authorization"] == "Bearer 00Dxx!first":
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return httpx.Response(200, json=[_contact(request.url.params["ids"])])

    router.get(f"{DATA}/composite/sobjects/Contact").mock(side_effect=answer)
    ids = [f"003xx{n:010d}AAA" for n in range(5)]
    results = await asyncio.gather(*(crm.customers_by_id([i]) for i in ids))
    assert [list(r) for r in results] == [[i] for i in ids]
    assert router["token"].call_count == 2


async def test_a_session_rejected_twice_is_not_retried_again(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    route = router.get(f"{DATA}/composite/sobjects/Contact").mock(
        return_value=_errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
    )
    with pytest.raises(UpstreamRejected):
        await crm.customers_by_id(["003xx000004TmiQAAS"])
    assert route.call_count == 2
    assert router["token"].call_count == 2


# --- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "error", "detail"),
    [
        (_errors(400, "MALFORMED_QUERY", "unexpected token: OR"), UpstreamRejected,
         "MALFORMED_QUERY"),
        (_errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), UpstreamThrottled,
         "REQUEST_LIMIT_EXCEEDED"),
        (_errors(403, "INSUFFICIENT_ACCESS", "no access"), UpstreamRejected, "INSUFFICIENT_ACCESS"),
        (_errors(500, "UNKNOWN_EXCEPTION", "boom"), UpstreamUnavailable, "UNKNOWN_EXCEPTION"),
        (_errors(503, "SERVER_UNAVAILABLE", "down"), UpstreamUnavailable, "HTTP 503"),
        (httpx.Response(200, content=b"<html>maintenance</html>"), UpstreamUnavailable, "not JSON"),
        (httpx.Response(200, json={"records": "nope"}), UpstreamUnavailable, "not a query result"),
    ],
)  # fmt: skip
async def test_failures_map_to_upstream_errors_without_vendor_text_in_public(
    crm: SalesforceCrm,
    router: respx.MockRouter,
    response: httpx.Response,
    error: type[UpstreamError],
    detail: str,
) -> None:
    router.get(f"{DATA}/query").mock(return_value=response)
    with pytest.raises(error) as raised:
        await crm.find_customers(["ava@example.com"], [])
    failure = raised.value
    assert type(failure) is error
    assert failure.service == "salesforce"
    assert failure.operation == "salesforce.find_contacts"
    assert detail in failure.detail
    assert failure.public_message in (
        "The salesforce service is unavailable.",
        "The salesforce service is throttling requests.",
    )


async def test_500_is_unavailable_not_rejected(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router.get(f"{DATA}/composite/sobjects/Contact").mock(
        return_value=_errors(500, "UNKNOWN_EXCEPTION", "boom")
    )
    with pytest.raises(UpstreamUnavailable) as raised:
        await crm.customers_by_id(["003xx000004TmiQAAS"])
    assert not isinstance(raised.value, UpstreamRejected)


async def test_refused_credentials_are_rejected_and_the_secret_never_logged(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router["token"].mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_client", "error_description": "invalid client credentials"}
        )
    )
    with pytest.raises(UpstreamRejected) as raised:
        await crm.customers_by_id(["003xx000004TmiQAAS"])
    assert raised.value.operation == "salesforce.token"
    assert "invalid_client" in raised.value.detail
    assert "s3cret" not in str(raised.value)


async def test_composite_answer_of_the_wrong_length_is_unavailable(
    crm: SalesforceCrm, router: respx.MockRouter
) -> None:
    router.get(f"{DATA}/composite/sobjects/Contact").mock(
        return_value=httpx.Response(200, json=[None])
    )
    with pytest.raises(UpstreamUnavailable, match="one result per id"):
        await crm.customers_by_id(["003xx000004TmiQAAS", "003xx000004TmiZAAS"])
