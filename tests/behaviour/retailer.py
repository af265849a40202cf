"""One vendor set under test: its gateway over the sandbox, and the people the suite acts
as, known to the set by its own CRM's ids. The behavioural tests ask the Retailer, never a
vendor, for whom to be and which store to stand in: the graph is all they read."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cart_api import Device, known_everywhere, staff_at
from conftest import Crm, GatewayClient, Sandbox, Tokens, bearer, running_gateway
from pymongo import AsyncMongoClient

from behaviour.sets import VendorSet
from commerce.offers.points_ledger import MongoPointsLedger
from gateway.settings import Settings
from gateway.wiring.sandbox import dataset_members
from sandbox.dataset import CrmContact, Dataset

# The suite's people come from here on in known_everywhere's list (the other modules take
# theirs from its start), so their order counts and balances are the suite's own.
FIRST_BUYER = 100
FIRST_MEMBER = 300

STORES = "{ stores { id name } }"


def set_settings(vendor_set: VendorSet, base: Settings) -> Settings:
    """`base` (the sandbox's settings) with the set's adapters and its further settings."""
    sections = {
        section: {**getattr(base, section).model_dump(), **values}
        for section, values in vendor_set.settings.items()
    }
    adapters = base.adapters.model_copy(update=dict(vendor_set.adapters))
    return base.with_changes(adapters=adapters.model_dump(), **sections)


async def open_ledger_accounts(settings: Settings, dataset: Dataset) -> None:
    """The dataset's loyalty members in omnigate's ledger, as an import would open them
    (under the set's POS customers); unused (and harmless) where the POS keeps the points."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        ledger = MongoPointsLedger(client, client[settings.mongodb_database])
        await ledger.ensure_indexes()
        await ledger.open_accounts(dataset_members(dataset, settings.adapters.pos))
    finally:
        await client.close()


@dataclass(repr=False)  # an async fixture's value is repr'ed: the dataset's repr takes seconds
class Retailer:
    vendor_set: VendorSet
    client: GatewayClient
    settings: Settings
    crm: Crm
    dataset: Dataset
    sandbox: Sandbox
    tokens: Tokens

    def __repr__(self) -> str:
        return f"Retailer({self.vendor_set.name})"

    def key(self, name: str) -> str:
        """An idempotency key of this set's run: the simulators outlive a set's gateway."""
        return f"behaviour-{self.vendor_set.name}-{name}"

    def shopper(self, contact: CrmContact) -> Device:
        """A device of the customer signed in as the set's CRM knows `contact`."""
        return Device(self.client, bearer(self.tokens.customer(self.crm.id_of(contact))))

    def till(self, store_id: str) -> Device:
        return staff_at(self.client, self.tokens, store_id)

    def staff_headers(self) -> dict[str, str]:
        return bearer(self.tokens.staff(self.dataset.stores[0].id))

    async def store_ids(self) -> dict[str, str]:
        """Store name -> the id the graph gives it (the POS's location id)."""
        body = await self.client.query(STORES)
        assert "errors" not in body, body
        return {store["name"]: store["id"] for store in body["data"]["stores"]}

    def buyer(self, index: int) -> CrmContact:
        """The index-th of the suite's people known to the CRM once, the POS and the shop:
        each test takes its own index, so counts of orders stay exact."""
        return self._by_id[known_everywhere(self.dataset)[FIRST_BUYER + index]]

    def member(self, index: int) -> CrmContact:
        """The index-th of the suite's people with a loyalty account of 300 points or more."""
        return self._members[index]

    @cached_property
    def _by_id(self) -> dict[str, CrmContact]:
        return {contact.id: contact for contact in self.dataset.crm_contacts}

    @cached_property
    def _members(self) -> list[CrmContact]:
        pos_by_person = {c.person_key: c.id for c in self.dataset.pos_customers}
        accounts = {a.customer_id: a for a in self.dataset.loyalty_accounts}
        found = []
        for contact_id in known_everywhere(self.dataset)[FIRST_MEMBER:]:
            contact = self._by_id[contact_id]
            account = accounts.get(pos_by_person.get(contact.person_key, ""))
            if account is not None and account.balance >= 300:
                found.append(contact)
        return found

    def duplicated(self) -> tuple[CrmContact, CrmContact]:
        """A person the dataset's CRM holds twice, both with the same email and phone."""
        counts = Counter(c.person_key for c in self.dataset.crm_contacts)
        for key, count in counts.items():
            if count == 2:
                first, second = [c for c in self.dataset.crm_contacts if c.person_key == key]
                if first.email == second.email and first.phone == second.phone:
                    return first, second
        raise AssertionError("the dataset has no duplicated CRM contact")

    @asynccontextmanager
    async def other_gateway(self, settings: Settings) -> AsyncIterator[GatewayClient]:
        """A gateway of this set with other settings (the same database)."""
        async with running_gateway(settings) as client:
            yield client
