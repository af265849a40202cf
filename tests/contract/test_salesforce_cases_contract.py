"""What the Salesforce adapter sends for after-sales requests (Cases) and how it reads the
answers: the upsert by external id, the read back, the SOQL listing, the status PATCH, and
Salesforce's error array, against the REST API's documented shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from test_salesforce_contract import DATA, LOGIN, _errors, _token

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    AfterSalesStatus,
    ExternalRef,
    System,
)
from connectors.salesforce import SalesforceCrm, SalesforceSettings

CASE_ID = "5005g00000AbCdEAAV"
CONTACT_ID = "0035g00000XyZwVAAV"
KEY = "ar-5f0c2b"
UPSERT = f"{DATA}/sobjects/Case/Omnigate_Request_Key__c/{KEY}"


def _case(**fields: object) -> dict[str, object]:
    return {
        "attributes": {"type": "Case", "url": f"/services/data/v67.0/sobjects/Case/{CASE_ID}"},
        "Id": CASE_ID,
        "CaseNumber": "00001001",
        "ContactId": CONTACT_ID,
        "Subject": "Damaged Item - order 42",
        "Description": "Broken handle.",
        "Status": "New",
        "Origin": "App",
        "Type": "Damaged Item",
        "IsClosed": False,
        "CreatedDate": "2026-11-24T09:30:15.000+0000",
        "LastModifiedDate": "2026-11-24T09:30:15.000+0000",
        "ClosedDate": None,
        "Omnigate_Request_Key__c": KEY,
        "Omnigate_Order_Id__c": "42",
        "Omnigate_SKU__c": "SKU-1",
        **fields,
    }


def _draft() -> AfterSalesDraft:
    return AfterSalesDraft(
        key=KEY,
        customer_ref=ExternalRef(System.SALESFORCE, CONTACT_ID),
        kind=AfterSalesKind.DAMAGED,
        description="Broken handle.",
        channel=AfterSalesChannel.APP,
        order_id="42",
        sku="SKU-1",
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mocked:
        mocked.post(f"{LOGIN}/services/oauth2/token", name="token").mock(return_value=_token())
        yield mocked


@pytest.fixture
async def crm(router: respx.MockRouter) -> AsyncIterator[SalesforceCrm]:
    settings = SalesforceSettings(login_url=LOGIN, client_id="cid", api_version="v67.0")
    async with httpx.AsyncClient() as client:
        yield SalesforceCrm(UpstreamHttp(client, service="salesforce", base_url=LOGIN), settings)


async def test_opening_is_an_upsert_by_the_key_then_a_read_back(crm, router):
    upsert = router.patch(UPSERT).mock(
        return_value=httpx.Response(
            201, json={"id": CASE_ID, "success": True, "errors": [], "created": True}
        )
    )
    read = router.get(f"{DATA}/sobjects/Case/{CASE_ID}").mock(
        return_value=httpx.Response(200, json=_case())
    )
    record, created = await crm.open_request(_draft())
    request = upsert.calls.last.request
    assert request.headers["authorization"] == "Bearer 00Dxx!first"
    assert request.headers["content-type"] == "application/json"
    # no Status: a retried upsert never moves a worked Case back to New
    assert json.loads(request.content) == {
        "ContactId": CONTACT_ID,
        "Subject": "Damaged Item - order 42 - SKU-1",
        "Description": "Broken handle.",
        "Type": "Damaged Item",
        "Origin": "App",
        "Omnigate_Order_Id__c": "42",
        "Omnigate_SKU__c": "SKU-1",
    }
    assert "Omnigate_Request_Key__c" in read.calls.last.request.url.params["fields"]
    assert created is True
    assert record.ref == ExternalRef(System.SALESFORCE, CASE_ID)
    assert record.number == "00001001"
    assert record.kind is AfterSalesKind.DAMAGED
    assert record.status is AfterSalesStatus.NEW
    assert record.channel is AfterSalesChannel.APP
    assert record.created_at == datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC)
    assert (record.order_id, record.sku, record.key) == ("42", "SKU-1", KEY)


async def test_an_upsert_that_found_the_case_is_not_a_creation(crm, router):
    router.patch(UPSERT).mock(
        return_value=httpx.Response(
            200, json={"id": CASE_ID, "success": True, "errors": [], "created": False}
        )
    )
    router.get(f"{DATA}/sobjects/Case/{CASE_ID}").mock(
        return_value=httpx.Response(200, json=_case(Status="Working"))
    )
    record, created = await crm.open_request(_draft())
    assert created is False
    assert record.status is AfterSalesStatus.WORKING


async def test_an_expired_session_is_renewed_and_the_upsert_sent_again(crm, router):
    upsert = router.patch(UPSERT).mock(
        side_effect=[
            _errors(401, "INVALID_SESSION_ID", "Session expired or invalid"),
            httpx.Response(201, json={"id": CASE_ID, "success": True, "errors": []}),
        ]
    )
    router.get(f"{DATA}/sobjects/Case/{CASE_ID}").mock(
        return_value=httpx.Response(200, json=_case())
    )
    router["token"].mock(side_effect=[_token(), _token("00Dxx!second")])
    _, created = await crm.open_request(_draft())
    assert created is True
    assert upsert.call_count == 2
    assert upsert.calls.last.request.headers["authorization"] == "Bearer 00Dxx!second"


async def test_a_refused_case_is_upstream_rejected_with_the_codes_for_the_logs(crm, router):
    router.patch(UPSERT).mock(
        return_value=httpx.Response(
            400,
            json=[
                {
                    "message": "Type: bad value for restricted picklist field: Damaged Item",
                    "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "fields": ["Type"],
                }
            ],
        )
    )
    with pytest.raises(UpstreamRejected) as refused:
        await crm.open_request(_draft())
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in refused.value.detail
    assert "Salesforce" not in refused.value.public_message


async def test_an_answer_without_an_id_is_the_upstreams_failure(crm, router):
    router.patch(UPSERT).mock(return_value=httpx.Response(201, json={"success": True}))
    with pytest.raises(UpstreamUnavailable):
        await crm.open_request(_draft())


async def test_a_contacts_cases_are_one_soql_query_newest_first(crm, router):
    route = router.get(f"{DATA}/query").mock(
        return_value=httpx.Response(
            200, json={"totalSize": 2, "done": True, "records": [_case(), {"Id": 3}]}
        )
    )
    before = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    found = await crm.requests_of([CONTACT_ID, CONTACT_ID, "x'; DELETE"], 11, before)
    soql = parse_qs(route.calls.last.request.url.query.decode())["q"][0]
    assert soql.endswith(
        f"FROM Case WHERE ContactId IN ('{CONTACT_ID}')"
        " AND CreatedDate <= 2026-11-30T08:00:00Z"
        " ORDER BY CreatedDate DESC, CaseNumber DESC LIMIT 11"
    )
    assert [r.ref.id for r in found] == [CASE_ID]
    assert await crm.requests_of(["not an id"], 5) == []
    assert route.call_count == 1


async def test_an_unknown_case_is_none_for_a_read_and_a_status_change(crm, router):
    router.get(f"{DATA}/sobjects/Case/{CASE_ID}").mock(
        return_value=_errors(404, "NOT_FOUND", "The requested resource does not exist")
    )
    router.patch(f"{DATA}/sobjects/Case/{CASE_ID}").mock(
        return_value=_errors(404, "NOT_FOUND", "The requested resource does not exist")
    )
    assert await crm.request(CASE_ID) is None
    assert await crm.set_request_status(CASE_ID, AfterSalesStatus.CLOSED) is None
    # a malformed id never reaches a URL path
    assert await crm.request("../../query") is None


async def test_a_status_change_is_a_patch_of_status_then_a_read(crm, router):
    patch = router.patch(f"{DATA}/sobjects/Case/{CASE_ID}").mock(return_value=httpx.Response(204))
    router.get(f"{DATA}/sobjects/Case/{CASE_ID}").mock(
        return_value=httpx.Response(
            200,
            json=_case(Status="Closed", IsClosed=True, ClosedDate="2026-11-25T10:00:00.000+0000"),
        )
    )
    record = await crm.set_request_status(CASE_ID, AfterSalesStatus.CLOSED)
    assert json.loads(patch.calls.last.request.content) == {"Status": "Closed"}
    assert record is not None
    assert record.status is AfterSalesStatus.CLOSED
    assert record.closed_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
