"""Helpers the customer profile tests share: the cache collection as MongoDB holds it, a
CRM contact edited in its simulator, a transport that holds CRM calls until released,
waiting for a background effect, and a mongod of a test's own to stop and start."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from gateway.local_mongod import LocalMongod

Document = dict[str, Any]

PROFILE = """
query ($id: ID!) {
  customer(id: $id) {
    id givenName familyName email phone emailOptIn
    externalRefs { system id }
    loyalty { balance lifetimePoints tier }
  }
}
"""
ME = "query { me { id givenName email loyalty { balance } } }"


@asynccontextmanager
async def database_of(settings: Any) -> AsyncIterator[AsyncDatabase[Document]]:
    """The test's own MongoDB database, as the gateway under test uses it."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(), tz_aware=True
    )
    try:
        yield client[settings.mongodb_database]
    finally:
        await client.close()


def profiles_of(database: AsyncDatabase[Document]) -> AsyncCollection[Document]:
    return database["customer_profiles"]


async def make_stale(
    profiles: AsyncCollection[Document], customer_id: str, **profile_changes: Any
) -> None:
    """Move a cached copy past its soft TTL (and change it, to tell it from a fresh one)."""
    changes = {f"profile.{name}": value for name, value in profile_changes.items()}
    result = await profiles.update_one(
        {"_id": customer_id},
        {"$set": {"fresh_until": datetime.now(UTC) - timedelta(seconds=1), **changes}},
    )
    assert result.matched_count == 1, f"{customer_id} is not cached"


async def wait_for(
    check: Callable[[], Awaitable[Any]], *, within: float = 10.0, interval: float = 0.02
) -> Any:
    """`check()`'s first truthy answer, polled; fails the test after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {within} s: {check}")
        await asyncio.sleep(interval)


@contextmanager
def edited_contact(
    control_url: str, changes: dict[str, Any], restore: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """A CRM contact edited in its simulator as a user would (`control_url`: the
    simulator's control endpoint of that contact); its answer (HubSpot's holds the webhook
    request HubSpot would send). `restore` is put back after."""
    response = httpx.post(control_url, json=changes, timeout=10)
    assert response.status_code == 200, response.text
    try:
        yield response.json()
    finally:
        httpx.post(control_url, json=restore, timeout=10)


class HeldUpstream(httpx.AsyncBaseTransport):
    """httpx's own transport, except that requests to one upstream wait until `release()`:
    a refresh in flight can be held while reads are made and checked."""

    def __init__(self, upstream_url: str) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._port = urlsplit(upstream_url).port
        self._open = asyncio.Event()
        self._open.set()
        self.held = 0

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == self._port and not self._open.is_set():
            self.held += 1
            await self._open.wait()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextmanager
def mongod_of_its_own(data_dir: Path) -> Iterator[LocalMongod]:
    """A started mongod, not the session's, for a test to stop and start."""
    server = LocalMongod(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        # pymongo may leave sockets to a server it saw die for the collector to close; let
        # that happen here, not as a ResourceWarning in whichever test runs next
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def person_on_every_system(dataset: Any, *, last: bool = False) -> tuple[Any, Any, Any, Any]:
    """A person known to the CRM once, to the POS (with loyalty) and to the online shop,
    with orders on both channels: the first such, or the last (`last`: for a test that
    changes her loyalty balance in the session's sandbox, away from those reading it)."""
    people = reversed(dataset.pos_customers) if last else dataset.pos_customers
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    loyalty = {a.customer_id: a for a in dataset.loyalty_accounts}
    pos_orders = Counter(o.customer_id for o in dataset.pos_orders)
    shop_orders = Counter(o.customer_id for o in dataset.online_orders)
    shop_by_person = {c.person_key: c for c in dataset.shop_customers}
    for pos in people:
        shop = shop_by_person.get(pos.person_key)
        if (
            crm_count[pos.person_key] == 1
            and pos.id in loyalty
            and pos.email_address
            and shop is not None
            and pos_orders[pos.id] >= 2
            and shop_orders[shop.id] >= 2
        ):
            contact = next(c for c in dataset.crm_contacts if c.person_key == pos.person_key)
            return contact, pos, shop, loyalty[pos.id]
    raise AssertionError("the dataset has no such person")
