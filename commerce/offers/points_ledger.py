"""omnigate's own loyalty ledger in MongoDB: the LoyaltyPort where the POS has no loyalty API
(`OMNIGATE_ADAPTERS__LOYALTY=mongodb`, or `auto` with such a POS: docs/adapters.md).

Two collections. `loyalty_accounts` holds one document per account (its POS customer, its
balance and lifetime points); `loyalty_entries` one document per change, keyed by the
caller's idempotency key under a unique index. A change is one transaction: the key is
looked up, the account's balance moved by a conditional update (a spend only while the
balance holds it), and the entry written. So a key answers its first change however often
it is sent, a crash before the commit leaves nothing behind, and two spends racing on one
account conflict inside MongoDB: the loser is retried by the driver and finds the balance
as the winner left it, so the balance never goes below zero.

Accounts are opened explicitly (`open_accounts`: an import from the loyalty program being
replaced, or the sandbox seeding the dataset's members); a customer without one has no
loyalty, as with Square. A MongoDB failure is raised as UpstreamUnavailable (service
`loyalty-ledger`), so the checkout treats it as it treats a loyalty API that does not
answer: points earned later by the reconciler, a spend refused before anything moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from commerce.transactions import in_transaction
from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.records import ExternalRef, LoyaltyAccountRecord, LoyaltyPointsChange, System

Document = dict[str, Any]
ACCOUNTS = "loyalty_accounts"
ENTRIES = "loyalty_entries"
SERVICE = "loyalty-ledger"


class EntryKind(StrEnum):
    EARN = "EARN"  # accumulate: a purchase's points
    ADJUST = "ADJUST"  # spent (negative) or given back (positive)
    TAKE_BACK = "TAKE_BACK"  # earned points reversed, never below zero


@dataclass(frozen=True, slots=True)
class _Change:
    """What one entry asks of an account."""

    kind: EntryKind
    points: int
    detail: Document


class MongoPointsLedger:
    """LoyaltyPort over MongoDB; see the module docstring."""

    # a purchase's points are always computed by the caller (commerce/offers/loyalty.py)
    accrues_pos_orders = False
    service = SERVICE

    def __init__(
        self, client: AsyncMongoClient[Document], database: AsyncDatabase[Document]
    ) -> None:
        self._client = client
        self.accounts: AsyncCollection[Document] = database[ACCOUNTS]
        self.entries: AsyncCollection[Document] = database[ENTRIES]

    async def ensure_indexes(self) -> None:
        await self.accounts.create_index("customer.id")
        # exactly once: one entry per idempotency key, whatever races
        await self.entries.create_index("key", unique=True)
        await self.entries.create_index([("account_id", 1), ("at", -1)])

    async def open_accounts(self, accounts: Sequence[LoyaltyAccountRecord]) -> None:
        """The accounts as an import brings them (the balance and lifetime points so far,
        each with its POS customer), in one bulk write; an account already open is left as
        it is, so an import run twice changes nothing."""
        if not accounts:
            return
        now = datetime.now(UTC)
        opened = {"created_at": now, "updated_at": now}
        await self.accounts.bulk_write(
            [
                UpdateOne(
                    {"_id": account.ref.id},
                    {
                        "$setOnInsert": {
                            "customer": {
                                "system": account.customer_ref.system.value,
                                "id": account.customer_ref.id,
                            },
                            "balance": account.balance,
                            "lifetime_points": account.lifetime_points,
                            **opened,
                        }
                    },
                    upsert=True,
                )
                for account in accounts
            ],
            ordered=False,
        )

    async def loyalty_accounts(self, customer_ids: Sequence[str]) -> list[LoyaltyAccountRecord]:
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return []
        try:
            found = await self.accounts.find({"customer.id": {"$in": wanted}}).to_list()
        except PyMongoError as exc:
            raise UpstreamUnavailable(SERVICE, "accounts", str(exc)) from exc
        return [_account(doc) for doc in found]

    async def accumulate_loyalty_points(
        self,
        account_id: str,
        *,
        idempotency_key: str,
        location_id: str,
        order_id: str | None = None,
        points: int | None = None,
    ) -> LoyaltyPointsChange:
        if points is None or points < 0:
            # the ledger applies no accrual rules of its own (accrues_pos_orders is False)
            raise UpstreamRejected(SERVICE, "accumulate", "points must be given, at least 0")
        detail = {"location_id": location_id, "order_id": order_id}
        return await self._apply(
            account_id, idempotency_key, _Change(EntryKind.EARN, points, detail)
        )

    async def adjust_loyalty_points(
        self, account_id: str, points: int, *, idempotency_key: str, reason: str
    ) -> LoyaltyPointsChange:
        change = _Change(EntryKind.ADJUST, points, {"reason": reason})
        return await self._apply(account_id, idempotency_key, change)

    async def take_back_points(
        self, account_id: str, points: int, *, idempotency_key: str, reason: str
    ) -> LoyaltyPointsChange:
        """Earned points reversed (the purchase refunded): up to `points`, never below zero
        (what was spent meanwhile stays spent); the change says how many were taken."""
        if points < 0:
            raise UpstreamRejected(SERVICE, "take_back", "points must be at least 0")
        change = _Change(EntryKind.TAKE_BACK, -points, {"reason": reason})
        return await self._apply(account_id, idempotency_key, change)

    async def _apply(self, account_id: str, key: str, change: _Change) -> LoyaltyPointsChange:
        operation = change.kind.value.lower()

        async def work(session: AsyncClientSession) -> LoyaltyPointsChange:
            first = await self.entries.find_one({"key": key}, session=session)
            if first is not None:
                return _answered(first, account_id, change)
            moved = await self._move(account_id, change, session)
            entry = {
                "key": key,
                "account_id": account_id,
                "kind": change.kind.value,
                "points": moved,
                "asked": change.points,
                "at": datetime.now(UTC),
                **change.detail,
            }
            inserted = await self.entries.insert_one(entry, session=session)
            return LoyaltyPointsChange(account_id, moved, str(inserted.inserted_id))

        try:
            return await in_transaction(self._client, work)
        except DuplicateKeyError:
            # the same key committed by a twin since this one looked: answer the twin's
            first = await self._entry(key)
            return _answered(first, account_id, change)
        except PyMongoError as exc:
            raise UpstreamUnavailable(SERVICE, operation, str(exc)) from exc

    async def _move(self, account_id: str, change: _Change, session: AsyncClientSession) -> int:
        """The account's balance moved inside the transaction; the points actually moved."""
        points = change.points
        if change.kind is EntryKind.TAKE_BACK:
            account = await self.accounts.find_one({"_id": account_id}, session=session)
            if account is None:
                raise UpstreamRejected(SERVICE, "take_back", f"no account {account_id}")
            points = -min(-points, int(account["balance"]))
        condition: Document = {"_id": account_id}
        if points < 0:
            condition["balance"] = {"$gte": -points}
        increment = {"balance": points}
        if change.kind is EntryKind.EARN:
            increment["lifetime_points"] = points
        updated = await self.accounts.find_one_and_update(
            condition,
            {"$inc": increment, "$set": {"updated_at": datetime.now(UTC)}},
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            exists = await self.accounts.count_documents({"_id": account_id}, session=session)
            what = "the balance does not hold the points" if exists else f"no account {account_id}"
            raise UpstreamRejected(SERVICE, change.kind.value.lower(), what)
        return points

    async def _entry(self, key: str) -> Document:
        try:
            first = await self.entries.find_one({"key": key})
        except PyMongoError as exc:
            raise UpstreamUnavailable(SERVICE, "entry", str(exc)) from exc
        if first is None:  # a unique-key refusal names a committed entry
            raise UpstreamUnavailable(SERVICE, "entry", f"entry {key} not found")
        return first


def _answered(first: Document, account_id: str, change: _Change) -> LoyaltyPointsChange:
    """The first change under a key, when this one asks the same; a key reused for another
    change is refused, as Square refuses it."""
    if (
        first["account_id"] != account_id
        or first["kind"] != change.kind.value
        or first["asked"] != change.points
    ):
        raise UpstreamRejected(SERVICE, "idempotency", f"key {first['key']} was used otherwise")
    return LoyaltyPointsChange(account_id, int(first["points"]), str(first["_id"]))


def _account(doc: Document) -> LoyaltyAccountRecord:
    customer = doc["customer"]
    system = System(customer["system"])
    return LoyaltyAccountRecord(
        # omnigate's account, named in its customer's system (no System of its own: the
        # ref stays out of the GraphQL enum and the cache's invalidation by ref still works)
        ref=ExternalRef(system, doc["_id"]),
        customer_ref=ExternalRef(system, customer["id"]),
        balance=int(doc["balance"]),
        lifetime_points=int(doc["lifetime_points"]),
    )
