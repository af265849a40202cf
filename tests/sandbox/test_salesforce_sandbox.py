"""The Salesforce simulator on its own contract, and the real adapter against it (no mocks)."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from connectors.http import UpstreamHttp
from connectors.salesforce import SalesforceCrm, SalesforceSettings
from sandbox.dataset import CrmContact, Dataset, build_dataset
from sandbox.salesforce import create_app

PUBLIC_URL = "http://salesforce.sandbox.test"
DATA = "/services/data/v67.0"
TOKEN_CALL = "POST /services/oauth2/token"
COMPOSITE_CALL = f"GET {DATA}/composite/sobjects/Contact"
SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Throttled:
    def exceeded(self, request: Request) -> bool:
        return True


@pytest.fixture
def crm_data() -> Dataset:
    return build_dataset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(crm_data: Dataset, clock: FakeClock) -> Starlette:
    return create_app(crm_data, public_url=PUBLIC_URL, clock=clock)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


@pytest.fixture
def crm(http: httpx.AsyncClient) -> SalesforceCrm:
    upstream = UpstreamHttp(http, service="salesforce", base_url=PUBLIC_URL)
    return SalesforceCrm(upstream, SalesforceSettings(login_url=PUBLIC_URL))


@pytest.fixture
async def token(http: httpx.AsyncClient) -> str:
    token: str = (await _token_response(http)).json()["access_token"]
    return token


async def _token_response(http: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        **overrides,
    }
    return await http.post("/services/oauth2/token", data=form)


async def _query(
    http: httpx.AsyncClient, token: str, soql: str, batch_size: int | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if batch_size is not None:
        headers["Sforce-Query-Options"] = f"batchSize={batch_size}"
    return await http.get(f"{DATA}/query", params={"q": soql}, headers=headers)


async def _all_records(
    http: httpx.AsyncClient, token: str, soql: str, batch_size: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every record of a query following nextRecordsUrl, and the number of pages read."""
    response = await _query(http, token, soql, batch_size)
    assert response.status_code == 200, response.text
    page = response.json()
    records, pages = list(page["records"]), 1
    while not page["done"]:
        response = await http.get(
            page["nextRecordsUrl"], headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["records"]
        pages += 1
    return records, pages


def _ids(contacts: list[CrmContact]) -> list[str]:
    return [c.id for c in contacts]


# --- OAuth and sessions ------------------------------------------------------------------


async def test_client_credentials_token_names_the_instance(http: httpx.AsyncClient) -> None:
    response = await _token_response(http)
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == PUBLIC_URL
    assert body["token_type"] == "Bearer"
    assert body["id"].startswith(f"{PUBLIC_URL}/id/00D")
    assert body["issued_at"].isdigit()
    assert body["signature"]
    assert body["access_token"].startswith("00D")


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_id": "someone-else"}, "invalid_client_id"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
async def test_token_endpoint_refuses_bad_credentials(
    http: httpx.AsyncClient, override: dict[str, str], error: str
) -> None:
    response = await _token_response(http, **override)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-session", "Basic abc"])
async def test_data_calls_without_a_live_session_are_invalid_session(
    http: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await http.get(
        f"{DATA}/query", params={"q": "SELECT Id FROM Contact LIMIT 1"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


async def test_sessions_expire_after_inactivity_not_while_used(
    http: httpx.AsyncClient, token: str, clock: FakeClock
) -> None:
    soql = "SELECT Id FROM Contact LIMIT 1"
    for _ in range(3):  # each call restarts the two-hour inactivity timer
        clock.advance(timedelta(minutes=119))
        assert (await _query(http, token, soql)).status_code == 200
    clock.advance(timedelta(hours=2, seconds=1))
    response = await _query(http, token, soql)
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_unknown_api_version_is_not_found(http: httpx.AsyncClient, token: str) -> None:
    response = await http.get(
        "/services/data/v99.0/query",
        params={"q": "SELECT Id FROM Contact"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


async def test_exhausted_api_allocation_is_request_limit_exceeded(crm_data: Dataset) -> None:
    app = create_app(crm_data, public_url=PUBLIC_URL, api_limit=Throttled())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http:
        token = (await _token_response(http)).json()["access_token"]
        response = await _query(http, token, "SELECT Id FROM Contact")
    assert response.status_code == 403
    assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


# --- the SOQL subset ---------------------------------------------------------------------


def _national_phone_contact(data: Dataset) -> CrmContact:
    return next(c for c in data.crm_contacts if c.phone and c.phone.startswith("("))


def _spaced_email_contact(data: Dataset) -> CrmContact:
    return next(c for c in data.crm_contacts if c.email and c.email.startswith(" "))


def _mobile(data: Dataset) -> str:
    return next(c.mobile_phone for c in data.crm_contacts if c.mobile_phone)


def _email(contact: CrmContact) -> str:
    assert contact.email is not None
    return contact.email


FILTERS = [
    (
        "email equality ignores case",
        lambda d: f"Email = '{d.crm_contacts[3].email.upper()}'",
        lambda d, c: c.email.casefold() == d.crm_contacts[3].email.casefold(),
    ),
    (
        "IN over ids",
        lambda d: f"Id IN ('{d.crm_contacts[0].id}', '{d.crm_contacts[9].id}')",
        lambda d, c: c.id in (d.crm_contacts[0].id, d.crm_contacts[9].id),
    ),
    (
        "15-character id matches its 18-character form",
        lambda d: f"Id = '{d.crm_contacts[5].id[:15]}'",
        lambda d, c: c.id == d.crm_contacts[5].id,
    ),
    (
        "national phone matched as stored",
        lambda d: f"Phone = '{_national_phone_contact(d).phone}'",
        lambda d, c: c.phone == _national_phone_contact(d).phone,
    ),
    (
        "AND inside parentheses within OR",
        lambda d: "(FirstName = 'ava' OR FirstName = 'LIAM') AND LastName = 'Chen'",
        lambda d, c: c.first_name in ("Ava", "Liam") and c.last_name == "Chen",
    ),
    (
        "LIKE prefix, case-insensitive",
        lambda d: "LastName LIKE 'sm%' AND FirstName LIKE '_va'",
        lambda d, c: c.last_name.lower().startswith("sm") and c.first_name == "Ava",
    ),
    (
        "datetime range, unquoted literals with offsets",
        lambda d: "CreatedDate > 2025-01-01T00:00:00Z AND CreatedDate <= 2025-01-31T19:00:00-05:00",
        lambda d, c: (
            datetime(2025, 1, 1, tzinfo=UTC) < c.created_date <= datetime(2025, 2, 1, tzinfo=UTC)
        ),
    ),
    (
        "null, boolean and NOT",
        lambda d: "MobilePhone != null AND HasOptedOutOfEmail = TRUE AND NOT LastName = 'Kim'",
        lambda d, c: (
            c.mobile_phone is not None and c.has_opted_out_of_email and c.last_name != "Kim"
        ),
    ),
    (
        "!= keeps records whose field is null, unlike SQL",
        lambda d: f"MobilePhone != '{_mobile(d)}' AND LastName = 'Chen'",
        lambda d, c: c.mobile_phone != _mobile(d) and c.last_name == "Chen",
    ),
    (
        "NOT IN and >= on strings",
        lambda d: "LastName NOT IN ('Smith', 'chen') AND LastName >= 'walsh'",
        lambda d, c: c.last_name not in ("Smith", "Chen") and c.last_name.lower() >= "walsh",
    ),
]


@pytest.mark.parametrize(
    ("where", "expected"), [(w, e) for _, w, e in FILTERS], ids=[name for name, _, _ in FILTERS]
)
async def test_where_clause_selects_exactly_the_matching_contacts(
    http: httpx.AsyncClient, token: str, crm_data: Dataset, where: Any, expected: Any
) -> None:
    records, _ = await _all_records(http, token, f"SELECT Id FROM Contact WHERE {where(crm_data)}")
    wanted = [c.id for c in crm_data.crm_contacts if expected(crm_data, c)]
    assert wanted, "the filter must select something to prove anything"
    assert sorted(r["Id"] for r in records) == sorted(wanted)


async def test_order_by_and_limit(http: httpx.AsyncClient, token: str, crm_data: Dataset) -> None:
    soql = "select id, lastmodifieddate from contact order by LastModifiedDate DESC, Id ASC limit 7"
    response = await _query(http, token, soql)
    body = response.json()
    newest = sorted(crm_data.crm_contacts, key=lambda c: c.id)
    newest.sort(key=lambda c: c.last_modified_date, reverse=True)
    assert [r["Id"] for r in body["records"]] == _ids(newest[:7])
    assert body["totalSize"] == 7
    assert body["done"] is True


@pytest.mark.parametrize(
    ("order", "nulls_come_first"),
    [("ASC", True), ("DESC", False), ("ASC NULLS LAST", False), ("DESC NULLS FIRST", True)],
)
async def test_nulls_sort_first_ascending_and_last_descending_unless_told(
    http: httpx.AsyncClient, token: str, crm_data: Dataset, order: str, nulls_come_first: bool
) -> None:
    soql = f"SELECT Id, MobilePhone FROM Contact ORDER BY MobilePhone {order} LIMIT 3"
    records = (await _query(http, token, soql)).json()["records"]
    assert [r["MobilePhone"] is None for r in records] == [nulls_come_first] * 3


async def test_records_carry_attributes_canonical_names_and_salesforce_datetimes(
    http: httpx.AsyncClient, token: str, crm_data: Dataset
) -> None:
    contact = _spaced_email_contact(crm_data)
    soql = f"SELECT email, PHONE, createddate FROM Contact WHERE Id = '{contact.id}'"
    (record,) = (await _query(http, token, soql)).json()["records"]
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"{DATA}/sobjects/Contact/{contact.id}",
    }
    assert list(record) == ["attributes", "Email", "Phone", "CreatedDate"]
    assert record["Email"] == contact.email  # served exactly as stored, spaces included
    assert SF_DATETIME.match(record["CreatedDate"])


async def test_stored_spaces_are_part_of_the_email(
    http: httpx.AsyncClient, token: str, crm_data: Dataset
) -> None:
    contact = _spaced_email_contact(crm_data)
    trimmed = await _query(
        http, token, f"SELECT Id FROM Contact WHERE Email = '{_email(contact).strip().lower()}'"
    )
    exact = await _query(
        http, token, f"SELECT Id FROM Contact WHERE Email = '{_email(contact).upper()}'"
    )
    assert contact.id not in [r["Id"] for r in trimmed.json()["records"]]
    assert contact.id in [r["Id"] for r in exact.json()["records"]]


@pytest.mark.parametrize(
    "literal",
    [
        r"'x\' OR LastName != \'x'",  # an escaped quote stays inside the literal
        r"'back\\slash'",
        r"'100\%'",  # \% is a literal percent sign in LIKE
    ],
)
async def test_escaped_literals_never_break_out(
    http: httpx.AsyncClient, token: str, literal: str
) -> None:
    response = await _query(http, token, f"SELECT Id FROM Contact WHERE Email LIKE {literal}")
    assert response.status_code == 200, response.text
    assert response.json()["totalSize"] == 0


@pytest.mark.parametrize(
    ("soql", "status", "code"),
    [
        ("SELECT Id Contact", 400, "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE", 400, "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact LIMIT 5 extra", 400, "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'a' AND Phone = 'b' OR Phone = 'c'", 400,
         "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'a\\q'", 400, "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'unterminated", 400, "MALFORMED_QUERY"),
        ('SELECT Id FROM Contact WHERE Email = "double"', 400, "MALFORMED_QUERY"),
        ("SELECT Id, Nickname FROM Contact", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Contact ORDER BY Nickname", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE CreatedDate > '2025-01-01T00:00:00Z'", 400,
         "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Email = 2025-01-01T00:00:00Z", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Id = 'short'", 400, "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead", 400, "INVALID_TYPE"),
    ],
)  # fmt: skip
async def test_bad_soql_gets_salesforce_errors(
    http: httpx.AsyncClient, token: str, soql: str, status: int, code: str
) -> None:
    response = await _query(http, token, soql)
    assert response.status_code == status
    (error,) = response.json()
    assert error["errorCode"] == code
    assert error["message"]


# --- query locators ---------------------------------------------------------------------


async def test_next_records_url_walks_every_record_exactly_once(
    http: httpx.AsyncClient, token: str, crm_data: Dataset
) -> None:
    first = (await _query(http, token, "SELECT Id FROM Contact", batch_size=500)).json()
    total = len(crm_data.crm_contacts)
    assert first["totalSize"] == total
    assert first["done"] is False
    assert len(first["records"]) == 500
    assert re.fullmatch(rf"{DATA}/query/01g[A-Za-z0-9]{{15}}-500", first["nextRecordsUrl"])
    records, pages = await _all_records(http, token, "SELECT Id FROM Contact", batch_size=500)
    ids = [r["Id"] for r in records]
    assert len(ids) == len(set(ids)) == total
    assert set(ids) == {c.id for c in crm_data.crm_contacts}
    assert pages == math.ceil(total / 500)


@pytest.mark.parametrize(("asked", "served"), [(None, 2000), (50, 200), (5000, 2000), (700, 700)])
async def test_batch_size_defaults_to_2000_within_200_to_2000(
    http: httpx.AsyncClient, token: str, asked: int | None, served: int
) -> None:
    page = (await _query(http, token, "SELECT Id FROM Contact", batch_size=asked)).json()
    assert len(page["records"]) == served


async def test_unknown_query_locator_is_refused(http: httpx.AsyncClient, token: str) -> None:
    response = await http.get(
        f"{DATA}/query/01gAAAAAAAAAAAAAAA-2000", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


# --- sObject Collections ------------------------------------------------------------------


async def _composite(
    http: httpx.AsyncClient,
    token: str,
    ids: list[str],
    fields: str = "Id,Email",
    sobject: str = "Contact",
) -> httpx.Response:
    return await http.get(
        f"{DATA}/composite/sobjects/{sobject}",
        params={"ids": ",".join(ids), "fields": fields},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_composite_answers_in_id_order_with_null_for_unknown_ids(
    http: httpx.AsyncClient, token: str, crm_data: Dataset
) -> None:
    a, b = crm_data.crm_contacts[10], crm_data.crm_contacts[2]
    unknown, invalid, account = "003000000000000AAA", "nope", a.account_id
    response = await _composite(http, token, [a.id, unknown, b.id[:15], invalid, account])
    assert response.status_code == 200
    body = response.json()
    assert [r and r["Id"] for r in body] == [a.id, None, b.id, None, None]
    assert body[0]["Email"] == a.email
    assert body[0]["attributes"]["type"] == "Contact"


@pytest.mark.parametrize(
    ("fields", "sobject", "status", "code"),
    [
        ("Id,Nickname", "Contact", 400, "INVALID_FIELD"),
        ("", "Contact", 400, "MISSING_ARGUMENT"),
        ("Id", "Widget", 404, "NOT_FOUND"),
    ],
)
async def test_composite_refusals(
    http: httpx.AsyncClient,
    token: str,
    crm_data: Dataset,
    fields: str,
    sobject: str,
    status: int,
    code: str,
) -> None:
    response = await _composite(http, token, [crm_data.crm_contacts[0].id], fields, sobject)
    assert response.status_code == status
    assert response.json()[0]["errorCode"] == code


async def test_composite_id_count_is_bounded_by_the_uri(
    http: httpx.AsyncClient, token: str, crm_data: Dataset
) -> None:
    ids = _ids(crm_data.crm_contacts)
    within = await _composite(http, token, ids[:200])
    beyond = await _composite(http, token, ids[:1000])
    assert within.status_code == 200
    assert len(within.json()) == 200
    assert beyond.status_code == 414


# --- the real adapter against the simulator ----------------------------------------------


def _calls(app: Starlette) -> dict[str, int]:
    return dict(app.state.calls)


async def test_customers_by_id_reads_250_ids_in_two_calls(
    crm: SalesforceCrm, app: Starlette, crm_data: Dataset
) -> None:
    known = crm_data.crm_contacts[:240]
    unknown = [f"003000000000{n:03d}AAA" for n in range(10)]
    found = await crm.customers_by_id([*_ids(known), *unknown])
    assert set(found) == set(_ids(known))
    contact = known[7]
    identity = found[contact.id]
    assert identity.ref.system == "SALESFORCE"
    assert identity.ref.id == contact.id
    assert identity.email == contact.email
    assert identity.phone == (contact.phone or contact.mobile_phone)
    assert identity.email_opt_in is (not contact.has_opted_out_of_email)
    assert identity.updated_at == contact.last_modified_date
    assert _calls(app)[COMPOSITE_CALL] == 2
    assert _calls(app)[TOKEN_CALL] == 1


async def test_find_customers_matches_email_in_any_case_and_e164_against_national_phones(
    crm: SalesforceCrm, app: Starlette, crm_data: Dataset
) -> None:
    by_phone = _national_phone_contact(crm_data)
    person = crm_data.people[by_phone.person_key]
    by_email = next(c for c in crm_data.crm_contacts if c.email and c.email == c.email.strip())
    found = await crm.find_customers([_email(by_email).upper()], [person.phone])
    ids = {f.ref.id for f in found}
    assert {by_phone.id, by_email.id} <= ids
    expected = {
        c.id
        for c in crm_data.crm_contacts
        if (c.email or "").casefold() == _email(by_email).casefold()
        or c.person_key == by_phone.person_key
    }
    assert ids == expected
    assert _calls(app)[f"GET {DATA}/query"] == 1


async def test_find_customers_treats_a_quote_in_an_email_as_data(
    crm: SalesforceCrm, crm_data: Dataset
) -> None:
    found = await crm.find_customers(["x' OR LastName != 'x", "o'brien@example.com"], [])
    assert found == []


async def test_find_customers_with_nothing_to_match_makes_no_call(
    crm: SalesforceCrm, app: Starlette
) -> None:
    assert await crm.find_customers([], []) == []
    assert _calls(app) == {}


async def test_contacts_modified_since_follows_next_records_url(
    crm: SalesforceCrm, app: Starlette, crm_data: Dataset
) -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    changed = await crm.contacts_modified_since(since)
    expected = sorted(
        (c for c in crm_data.crm_contacts if c.last_modified_date >= since),
        key=lambda c: (c.last_modified_date, c.id),
    )
    assert len(expected) > 2000, "must span more than one batch"
    assert [c.ref.id for c in changed] == _ids(expected)
    more = sum(n for call, n in _calls(app).items() if call.startswith(f"GET {DATA}/query/"))
    assert more == math.ceil(len(expected) / 2000) - 1


async def test_concurrent_first_calls_share_one_token(
    crm: SalesforceCrm, app: Starlette, crm_data: Dataset
) -> None:
    contacts = crm_data.crm_contacts[:20]
    results = await asyncio.gather(*(crm.customers_by_id([c.id]) for c in contacts))
    assert [list(r) for r in results] == [[c.id] for c in contacts]
    assert _calls(app)[TOKEN_CALL] == 1


async def test_expired_session_is_renewed_once_and_the_call_retried(
    crm: SalesforceCrm, app: Starlette, crm_data: Dataset, clock: FakeClock
) -> None:
    contact = crm_data.crm_contacts[0]
    assert contact.id in await crm.customers_by_id([contact.id])
    clock.advance(timedelta(hours=3))
    assert contact.id in await crm.customers_by_id([contact.id])
    app.state.salesforce_gate.sessions.revoke_all()
    results = await asyncio.gather(*(crm.customers_by_id([contact.id]) for _ in range(5)))
    assert all(contact.id in r for r in results)
    assert _calls(app)[TOKEN_CALL] == 3
