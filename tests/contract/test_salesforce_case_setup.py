"""`omnigate check-upstreams` reads Case's describe and names each part of the org's Case
setup (docs/vendors/salesforce.md) that after-sales requests would trip over. The org's
answer is the simulator's describe (sandbox/salesforce/describe.py), changed the way a
half-done setup would show it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from test_salesforce_contract import DATA, LOGIN, _errors, _settings, _token

from connectors.check import CheckFailed
from connectors.http import UpstreamHttp
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    ExternalRef,
    System,
)
from connectors.salesforce.case_setup import UPSERTED
from connectors.salesforce.cases import case_body
from connectors.salesforce.check import check_salesforce
from sandbox.salesforce.describe import case_describe

Check = Callable[[], Any]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mocked:
        mocked.post(f"{LOGIN}/services/oauth2/token").mock(return_value=_token())
        mocked.get(f"{DATA}/query").mock(
            return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
        )
        yield mocked


@pytest.fixture
async def check(router: respx.MockRouter) -> AsyncIterator[Check]:
    async with httpx.AsyncClient() as client:
        http = UpstreamHttp(client, service="salesforce", base_url=LOGIN)
        yield lambda: check_salesforce(http, _settings())


def answer_describe(router: respx.MockRouter, describe: dict[str, Any]) -> respx.Route:
    return router.get(f"{DATA}/sobjects/Case/describe").mock(
        return_value=httpx.Response(200, json=describe)
    )


def field(describe: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in describe["fields"] if f["name"] == name)
    return found


async def problem(check: Check) -> str:
    with pytest.raises(CheckFailed) as failed:
        await check()
    return failed.value.problem


def test_the_fields_the_check_wants_writable_are_the_ones_the_upsert_sends():
    draft = AfterSalesDraft(
        key="k",
        customer_ref=ExternalRef(System.SALESFORCE, "0035g00000XyZwVAAV"),
        kind=AfterSalesKind.DAMAGED,
        description="Broken.",
        channel=AfterSalesChannel.APP,
        order_id="42",
        sku="SKU-1",
    )
    assert set(case_body(draft)) == set(UPSERTED)


async def test_the_simulated_org_is_set_up_and_the_describe_is_one_read(check, router):
    describe = answer_describe(router, case_describe("v67.0"))

    assert await check() == (
        "token granted, Contact readable with the 9 fields omnigate reads, "
        "Case set up for after-sales requests"
    )
    assert describe.call_count == 1
    assert describe.calls.last.request.headers["authorization"] == "Bearer 00Dxx!first"


async def test_a_missing_custom_field_and_a_key_that_is_not_unique_are_named(check, router):
    describe = case_describe("v67.0")
    describe["fields"] = [f for f in describe["fields"] if f["name"] != "Omnigate_SKU__c"]
    field(describe, "Omnigate_Request_Key__c")["unique"] = False
    answer_describe(router, describe)

    assert await problem(check) == (
        "Case is not set up for after-sales requests (docs/vendors/salesforce.md): "
        "Case has no field Omnigate_SKU__c (or the run-as user cannot read it); "
        "Omnigate_Request_Key__c is not marked External ID and Unique"
    )


async def test_missing_picklist_values_and_write_access_are_named(check, router):
    describe = case_describe("v67.0")
    describe["createable"] = False
    status = field(describe, "Status")
    status["updateable"] = False
    kind = field(describe, "Type")
    kind["picklistValues"] = [v for v in kind["picklistValues"] if v["value"] != "Missing Item"]
    inactive = copy.deepcopy(kind["picklistValues"])
    inactive[0]["active"] = False  # Damaged Item, deactivated
    kind["picklistValues"] = inactive
    answer_describe(router, describe)

    assert await problem(check) == (
        "Case is not set up for after-sales requests (docs/vendors/salesforce.md): "
        "Case is not createable by the run-as user; "
        "Status is not updateable by the run-as user; "
        "Type's picklist lacks 'Damaged Item', 'Missing Item'"
    )


async def test_an_unrestricted_picklist_takes_any_value(check, router):
    describe = case_describe("v67.0")
    origin = field(describe, "Origin")
    origin["picklistValues"] = [v for v in origin["picklistValues"] if v["value"] != "App"]
    assert origin["restrictedPicklist"] is False
    answer_describe(router, describe)

    assert (await check()).endswith("Case set up for after-sales requests")


async def test_case_hidden_from_the_run_as_user_is_named(check, router):
    router.get(f"{DATA}/sobjects/Case/describe").mock(
        return_value=_errors(404, "NOT_FOUND", "The requested resource does not exist")
    )

    assert await problem(check) == (
        "the run-as user cannot see Case (HTTP 404: NOT_FOUND: The requested resource does not "
        "exist); it needs Read, Create and Edit on Case and its fields"
    )
