"""omnigate's loyalty ledger on the real mongod (commerce/offers/points_ledger.py): a key
changes points once, a crash inside the change leaves nothing, concurrent spends never
overdraw, a take-back stops at zero. The GraphQL-level behaviour, the same for Square
Loyalty, is tests/test_loyalty.py's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient

from commerce.offers.points_ledger import EntryKind, MongoPointsLedger
from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.records import ExternalRef, LoyaltyAccountRecord, System
from gateway.local_mongod import LocalMongod

ACCOUNT = "acct-1"
CUSTOMER = "CUST1"


@pytest.fixture
async def ledger(mongod: LocalMongod) -> AsyncIterator[MongoPointsLedger]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongod.uri)
    try:
        made = MongoPointsLedger(client, client[f"test_{uuid.uuid4().hex[:12]}"])
        await made.ensure_indexes()
        await made.open_accounts([account(ACCOUNT, CUSTOMER, 500)])
        yield made
    finally:
        await client.close()


def account(account_id: str, customer_id: str, balance: int) -> LoyaltyAccountRecord:
    return LoyaltyAccountRecord(
        ref=ExternalRef(System.SQUARE, account_id),
        customer_ref=ExternalRef(System.SQUARE, customer_id),
        balance=balance,
        lifetime_points=balance,
    )


async def balance(ledger: MongoPointsLedger, account_id: str = ACCOUNT) -> tuple[int, int]:
    [found] = [a for a in await ledger.loyalty_accounts([CUSTOMER]) if a.ref.id == account_id]
    return found.balance, found.lifetime_points


async def test_accounts_are_found_by_their_pos_customer_and_opening_again_changes_nothing(
    ledger,
):
    await ledger.open_accounts([account(ACCOUNT, CUSTOMER, 9999), account("acct-2", "C2", 7)])
    found = {a.ref.id: a for a in await ledger.loyalty_accounts([CUSTOMER, "C2", "nobody"])}
    assert set(found) == {ACCOUNT, "acct-2"}
    assert found[ACCOUNT].balance == 500, "an import run twice leaves the account as it is"
    assert found["acct-2"].customer_ref == ExternalRef(System.SQUARE, "C2")
    assert await ledger.loyalty_accounts([]) == []


async def test_a_key_earns_once_however_often_and_however_concurrently_it_is_sent(ledger):
    async def earn() -> Any:
        return await ledger.accumulate_loyalty_points(
            ACCOUNT, idempotency_key="order-1:earn", location_id="L1", points=40
        )

    changes = await asyncio.gather(*(earn() for _ in range(6)))
    changes.append(await earn())
    assert {(c.points, c.event_id) for c in changes} == {(40, changes[0].event_id)}
    assert await balance(ledger) == (540, 540)
    assert await ledger.entries.count_documents({"key": "order-1:earn"}) == 1


async def test_a_spend_takes_points_once_and_a_give_back_returns_them(ledger):
    for _ in range(3):
        spent = await ledger.adjust_loyalty_points(
            ACCOUNT, -150, idempotency_key="co-1:burn", reason="checkout"
        )
        assert spent.points == -150
    assert await balance(ledger) == (350, 500), "a spend leaves the lifetime points alone"
    back = await ledger.adjust_loyalty_points(
        ACCOUNT, 150, idempotency_key="co-1:refund", reason="refused"
    )
    assert back.points == 150
    assert await balance(ledger) == (500, 500)


async def test_a_spend_past_the_balance_is_refused_and_moves_nothing(ledger):
    with pytest.raises(UpstreamRejected):
        await ledger.adjust_loyalty_points(ACCOUNT, -501, idempotency_key="big", reason="x")
    assert await balance(ledger) == (500, 500)
    assert await ledger.entries.count_documents({}) == 0
    # the refusal wrote nothing under the key: a later spend the balance holds may use it
    await ledger.adjust_loyalty_points(ACCOUNT, -500, idempotency_key="big2", reason="x")
    assert await balance(ledger) == (0, 500)


async def test_an_unknown_account_and_a_reused_key_are_refused(ledger):
    with pytest.raises(UpstreamRejected):
        await ledger.adjust_loyalty_points("nobody", 5, idempotency_key="k1", reason="x")
    await ledger.adjust_loyalty_points(ACCOUNT, -5, idempotency_key="k2", reason="x")
    with pytest.raises(UpstreamRejected):  # the same key asking another change
        await ledger.adjust_loyalty_points(ACCOUNT, -6, idempotency_key="k2", reason="x")
    with pytest.raises(UpstreamRejected):  # no accrual rules of its own: points are given
        await ledger.accumulate_loyalty_points(
            ACCOUNT, idempotency_key="k3", location_id="L1", order_id="O1"
        )
    assert await balance(ledger) == (495, 500)


async def test_concurrent_spends_never_overdraw(ledger):
    """Twelve spends of 100 at once on 500 points: five succeed, whatever the interleaving,
    and the balance ends at exactly zero."""

    async def spend(n: int) -> bool:
        try:
            await ledger.adjust_loyalty_points(
                ACCOUNT, -100, idempotency_key=f"race-{n}", reason="race"
            )
        except UpstreamRejected:
            return False
        return True

    won = await asyncio.gather(*(spend(n) for n in range(12)))
    assert sum(won) == 5
    assert await balance(ledger) == (0, 500)
    spends = await ledger.entries.find({"kind": EntryKind.ADJUST.value}).to_list()
    assert sorted(e["key"] for e in spends) == sorted(f"race-{n}" for n, w in enumerate(won) if w)


async def test_a_crash_between_the_balance_and_the_entry_leaves_nothing_and_a_retry_counts_once(
    ledger, monkeypatch
):
    """The pod dies after the balance moved, before the entry is written: the transaction
    never commits, so neither is there, and the retry under the key moves the points once."""
    written = ledger.entries.insert_one

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the pod died between the balance and the entry")

    monkeypatch.setattr(ledger.entries, "insert_one", crash)
    with pytest.raises(RuntimeError):
        await ledger.accumulate_loyalty_points(
            ACCOUNT, idempotency_key="o-9:earn", location_id="L1", points=25
        )
    assert await balance(ledger) == (500, 500)
    monkeypatch.setattr(ledger.entries, "insert_one", written)
    for _ in range(2):
        await ledger.accumulate_loyalty_points(
            ACCOUNT, idempotency_key="o-9:earn", location_id="L1", points=25
        )
    assert await balance(ledger) == (525, 525)


async def test_a_take_back_stops_at_zero_and_counts_once(ledger):
    await ledger.adjust_loyalty_points(ACCOUNT, -450, idempotency_key="spent", reason="x")
    for _ in range(2):
        taken = await ledger.take_back_points(
            ACCOUNT, 120, idempotency_key="o-3:take-back", reason="order refunded"
        )
        assert taken.points == -50, "only what is left is taken back"
    assert await balance(ledger) == (0, 500)
    nothing = await ledger.take_back_points(ACCOUNT, 10, idempotency_key="o-4:take-back", reason="")
    assert nothing.points == 0
    assert await balance(ledger) == (0, 500)


async def test_a_mongodb_that_does_not_answer_is_an_unavailable_upstream(mongod):
    """As a loyalty API that does not answer: the checkout earns later, spends nothing.
    Under a deadline, as every request's MongoDB work is (engine/deadline.py): without one
    the driver retries a transaction for two minutes."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        "mongodb://127.0.0.1:1/?directConnection=true", serverSelectionTimeoutMS=200
    )
    try:
        dead = MongoPointsLedger(client, client["nothing"])
        with pytest.raises(UpstreamUnavailable) as raised, pymongo.timeout(1):
            await dead.adjust_loyalty_points(ACCOUNT, -1, idempotency_key="k", reason="x")
        assert not isinstance(raised.value, UpstreamRejected)
        with pytest.raises(UpstreamUnavailable):
            await dead.loyalty_accounts([CUSTOMER])
    finally:
        await client.close()
