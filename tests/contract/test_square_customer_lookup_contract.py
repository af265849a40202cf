"""Square as the POS staff search through (`PosCustomerLookup`): RetrieveLoyaltyAccount and
BulkRetrieveCustomers, the adapter against the simulator, every answer validated against
Square's official OpenAPI document (tests/contract/square_openapi.py, names closed)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from square_openapi import SquareContract, square_contract

from connectors.http import UpstreamHttp
from connectors.ports import PosCustomerLookup
from connectors.records import ExternalRef, System
from connectors.square import SquarePos, SquareSettings
from sandbox.dataset import Dataset, build_dataset
from sandbox.square import create_app

URL = "http://square.sandbox"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
async def exchanges(dataset: Dataset) -> AsyncIterator[tuple[SquarePos, list[tuple[str, int]]]]:
    contract: SquareContract = square_contract()
    seen: list[tuple[str, int]] = []

    async def judge(response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        if request.method != "GET":
            contract.request(request.method, request.url.path, json.loads(request.content))
        contract.answer(request.method, request.url.path, response.json())
        seen.append((request.url.path, response.status_code))

    app = create_app(dataset, public_url=URL)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=URL, event_hooks={"response": [judge]}
    ) as client:
        http = UpstreamHttp(client, service="square", base_url=URL)
        yield SquarePos(http, SquareSettings()), seen


async def test_a_loyalty_card_names_its_customer(exchanges, dataset):
    pos, seen = exchanges
    assert isinstance(pos, PosCustomerLookup)
    account = dataset.loyalty_accounts[0]
    found = await pos.loyalty_account(account.id)
    assert found is not None
    assert found.ref == ExternalRef(System.SQUARE, account.id)
    assert found.customer_ref == ExternalRef(System.SQUARE, account.customer_id)
    assert found.balance == account.balance
    customers = await pos.customers_by_id([account.customer_id])
    assert set(customers) == {account.customer_id}
    assert seen == [
        (f"/v2/loyalty/accounts/{account.id}", 200),
        ("/v2/customers/bulk-retrieve", 200),
    ]


async def test_an_unknown_card_is_none_from_squares_404(exchanges):
    pos, seen = exchanges
    assert await pos.loyalty_account(str(uuid.UUID(int=7))) is None
    assert [status for _, status in seen] == [404]


@pytest.mark.parametrize("typed", ["", "  ", "a/../../v2/customers", "card?limit=1", "a#b"])
async def test_a_card_no_square_id_could_be_is_not_sent(exchanges, typed):
    pos, seen = exchanges
    assert await pos.loyalty_account(typed) is None
    assert seen == []


async def test_loyalty_movements_newest_first_and_bounded(exchanges, dataset):
    pos, seen = exchanges
    account = dataset.loyalty_accounts[1]
    earned = await pos.adjust_loyalty_points(account.id, 40, idempotency_key="k-1", reason="a")
    spent = await pos.adjust_loyalty_points(account.id, -15, idempotency_key="k-2", reason="b")
    movements = await pos.loyalty_movements(account.id, 10)
    assert {(m.ref.id, m.points, m.kind) for m in movements} == {
        (earned.event_id, 40, "ADJUST_POINTS"),
        (spent.event_id, -15, "ADJUST_POINTS"),
    }
    keys = [(m.created_at, m.ref.id) for m in movements]
    assert keys == sorted(keys, reverse=True)
    assert all(m.account_id == account.id for m in movements)
    newest = movements[0]
    # inclusive bound, as the order history's: the newest is kept at its own time
    assert await pos.loyalty_movements(account.id, 10, newest.created_at) == movements
    assert await pos.loyalty_movements(dataset.loyalty_accounts[2].id, 10) == []
    assert ("/v2/loyalty/events/search", 200) in seen
