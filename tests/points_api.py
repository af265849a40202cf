"""The two keepers of loyalty points the gateway can run with (OMNIGATE_ADAPTERS__LOYALTY):
Square Loyalty on the sandbox, and omnigate's own ledger in MongoDB. The `points` fixture
(tests/conftest.py) gives one per run of a test, so the same test proves both: what a test
asks of the keeper (a balance, a spend made at a till outside omnigate, the spends and
earns recorded) each answers from its own truth, the simulator's state or the ledger's
collections on the test's mongod."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient

from commerce.offers.points_ledger import EntryKind, MongoPointsLedger
from connectors.records import ExternalRef, LoyaltyAccountRecord, System
from gateway.settings import Settings
from sandbox.dataset import Dataset

KEEPERS = ("square", "mongodb")


@dataclass
class SquareKeeper:
    """Square Loyalty: the simulator's accounts, shared by the session's tests."""

    sandbox: Any
    name: str = "square"

    def settings(self, settings: Settings) -> Settings:
        return _choose(settings, "pos")

    def key(self, name: str) -> str:
        """A checkout key of this keeper's run: the vendors' sandboxes outlive a test."""
        return f"{name}-{self.name}"

    async def seed(self, settings: Settings) -> None:
        """Square's accounts are the dataset's already."""

    async def balance(self, account_id: str) -> tuple[int, int]:
        """(balance, lifetime points) now."""
        answer: tuple[int, int] = self._world().loyalty_balance(account_id)
        return answer

    async def spend_elsewhere(self, account_id: str, points: int) -> None:
        """Points spent at a till, straight in Square, not through omnigate."""
        self._world().change_points(account_id, -points, lifetime=False)

    async def adjustments(self, account_id: str) -> int:
        """Spends and give-backs recorded for the account since the test began."""
        calls = self.sandbox.calls("square")
        return int(calls.get(f"POST /v2/loyalty/accounts/{account_id}/adjust", 0))

    async def earnings(self) -> int:
        """Purchases' points recorded since the test began, on any account."""
        calls = self.sandbox.calls("square").items()
        return sum(n for call, n in calls if call.endswith("/accumulate"))

    def _world(self) -> Any:
        return self.sandbox.apps["square"].app.state.square


@dataclass
class LedgerKeeper:
    """omnigate's ledger in the test's own database, opened with the dataset's members and
    their balances (as an import from Square Loyalty would)."""

    client: AsyncMongoClient[dict[str, Any]]
    dataset: Dataset
    name: str = "mongodb"
    _ledger: MongoPointsLedger | None = field(default=None, init=False)

    def settings(self, settings: Settings) -> Settings:
        return _choose(settings, "mongodb")

    def key(self, name: str) -> str:
        return f"{name}-{self.name}"

    async def seed(self, settings: Settings) -> None:
        self._ledger = MongoPointsLedger(self.client, self.client[settings.mongodb_database])
        await self._ledger.ensure_indexes()
        await self._ledger.open_accounts(
            [
                LoyaltyAccountRecord(
                    ref=ExternalRef(System.SQUARE, a.id),
                    customer_ref=ExternalRef(System.SQUARE, a.customer_id),
                    balance=a.balance,
                    lifetime_points=a.lifetime_points,
                )
                for a in self.dataset.loyalty_accounts
            ]
        )

    @property
    def ledger(self) -> MongoPointsLedger:
        assert self._ledger is not None, "seed() first"
        return self._ledger

    async def balance(self, account_id: str) -> tuple[int, int]:
        account = await self.ledger.accounts.find_one({"_id": account_id})
        assert account is not None
        return int(account["balance"]), int(account["lifetime_points"])

    async def spend_elsewhere(self, account_id: str, points: int) -> None:
        await self.ledger.adjust_loyalty_points(
            account_id, -points, idempotency_key=f"till:{account_id}:{points}", reason="till"
        )

    async def adjustments(self, account_id: str) -> int:
        wanted = {"account_id": account_id, "kind": EntryKind.ADJUST.value}
        return await self.ledger.entries.count_documents(wanted)

    async def earnings(self) -> int:
        return await self.ledger.entries.count_documents({"kind": EntryKind.EARN.value})


Keeper = SquareKeeper | LedgerKeeper


def _choose(settings: Settings, loyalty: str) -> Settings:
    adapters = settings.adapters.model_copy(update={"loyalty": loyalty})
    return settings.with_changes(adapters=adapters.model_dump())
