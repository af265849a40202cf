"""The profile cache in MongoDB: soft TTL served as is, hard TTL gone, stale-while-revalidate
with one refresh per customer across concurrent reads and across gateway processes, and
invalidations never overwritten by a refresh that read before them. Every test runs once
per CRM (the `crm` fixture, tests/conftest.py)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import Crm, bearer
from profile_support import (
    ME,
    PROFILE,
    HeldUpstream,
    database_of,
    make_stale,
    profiles_of,
    wait_for,
)
from pymongo import AsyncMongoClient

from commerce.customers.cache import ProfileCache
from gateway.local_mongod import free_port, mongod_binary
from gateway.settings import Settings

STALE_NAME = "Stale-Copy"


@dataclass(frozen=True)
class Contact:
    """A dataset contact as the CRM under test knows it."""

    id: str
    first_name: str
    last_modified_date: datetime


@pytest.fixture
def settings(settings: Settings, crm: Crm) -> Settings:
    return crm.settings(settings)


@pytest.fixture
def contact(dataset, crm: Crm) -> Contact:
    found = dataset.crm_contacts[11]
    return Contact(crm.id_of(found), found.first_name, found.last_modified_date)


@pytest.fixture
async def profiles(settings):
    async with database_of(settings) as database:
        yield profiles_of(database)


def warning_codes(body) -> list[str]:
    return [w["code"] for w in body.get("extensions", {}).get("warnings", [])]


async def test_a_read_within_the_soft_ttl_is_served_as_fresh(
    gateway, sandbox, tokens, contact, crm
):
    headers = bearer(tokens.customer(contact.id))
    await gateway.query(ME, headers=headers)
    sandbox.reset_calls()
    body = await gateway.query(ME, headers=headers)
    assert body == {"data": {"me": body["data"]["me"]}}  # no errors, no warnings
    assert sandbox.total_calls(crm.vendor) == 0


async def test_the_cached_document_holds_both_ttls_and_the_sources(
    gateway, tokens, contact, profiles, settings, crm
):
    before = datetime.now(UTC)
    await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    document = await profiles.find_one({"_id": contact.id})
    fetched = document["fetched_at"]
    assert before - timedelta(seconds=1) <= fetched <= datetime.now(UTC)
    cache = settings.cache
    assert document["fresh_until"] - fetched == timedelta(seconds=cache.profile_ttl_seconds)
    assert document["expires_at"] - fetched == timedelta(seconds=cache.profile_hard_ttl_seconds)
    systems = {s["system"]: s for s in document["profile"]["sources"]}
    assert systems[crm.system]["ids"] == [contact.id]
    assert systems[crm.system]["updated_at"] == contact.last_modified_date
    indexes = await profiles.index_information()
    assert indexes["expires_at_1"]["expireAfterSeconds"] == 0


async def test_past_the_hard_ttl_there_is_no_copy(gateway, sandbox, tokens, contact, profiles, crm):
    headers = bearer(tokens.customer(contact.id))
    await gateway.query(ME, headers=headers)
    # what the TTL monitor deletes within a minute, reads already ignore
    await profiles.update_one(
        {"_id": contact.id},
        {"$set": {"expires_at": datetime.now(UTC), "profile.given_name": STALE_NAME}},
    )
    sandbox.reset_calls()
    body = await gateway.query(ME, headers=headers)
    assert body["data"]["me"]["givenName"] == contact.first_name
    assert "extensions" not in body
    assert crm.reads(sandbox.calls(crm.vendor))["by_id"] == 1


@pytest.fixture
def ttl_mongod(tmp_path: Path) -> Iterator[str]:
    """A standalone mongod whose TTL monitor wakes every second (60 s by default, and the
    setting only takes effect after the sleep under way): its URI."""
    port = free_port()
    (tmp_path / "db").mkdir()
    process = subprocess.Popen(
        [
            str(mongod_binary()),
            "--port",
            str(port),
            "--bind_ip",
            "127.0.0.1",
            "--dbpath",
            str(tmp_path / "db"),
            "--logpath",
            str(tmp_path / "mongod.log"),
            "--wiredTigerCacheSizeGB",
            "0.25",
            "--setParameter",
            "ttlMonitorSleepSecs=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_the_ttl_index_removes_a_profile_past_its_hard_ttl(ttl_mongod, settings, contact):
    """What `put` writes is what MongoDB's TTL monitor acts on (a BSON date under the
    indexed field): the copy is gone from the collection, not only filtered out by reads."""
    client: AsyncMongoClient = AsyncMongoClient(
        ttl_mongod, tz_aware=True, serverSelectionTimeoutMS=20_000
    )
    try:
        database = client["ttl_expiry"]
        cache = ProfileCache(database)
        await cache.ensure_indexes()
        soft = timedelta(seconds=settings.cache.profile_ttl_seconds)
        hard = timedelta(seconds=settings.cache.profile_hard_ttl_seconds)
        now = datetime.now(UTC)
        profile = {"id": contact.id, "external_refs": [{"system": "SALESFORCE", "id": contact.id}]}
        assert await cache.put("kept", profile, fetched_at=now, soft_ttl=soft, hard_ttl=hard)
        read_long_ago = now - hard - timedelta(seconds=1)
        assert await cache.put(
            contact.id, profile, fetched_at=read_long_ago, soft_ttl=soft, hard_ttl=hard
        )
        assert await cache.collection.count_documents({}) == 2

        async def removed() -> bool:
            return await cache.collection.find_one({"_id": contact.id}) is None

        await wait_for(removed, within=30, interval=0.2)
        assert await cache.collection.find_one({"_id": "kept"}) is not None
    finally:
        await client.close()


async def test_past_the_soft_ttl_the_copy_is_served_and_refreshed_in_the_background(
    gateway, sandbox, tokens, contact, profiles
):
    headers = bearer(tokens.customer(contact.id))
    await gateway.query(ME, headers=headers)
    await make_stale(profiles, contact.id, given_name=STALE_NAME)
    sandbox.reset_calls()

    body = await gateway.query(ME, headers=headers)

    assert body["data"]["me"]["givenName"] == STALE_NAME
    assert "errors" not in body
    [warning] = body["extensions"]["warnings"]
    assert warning["code"] == "STALE_WHILE_REVALIDATE"
    assert warning["path"] == ["me"]
    assert warning["ageSeconds"] >= 0

    async def refreshed():
        document = await profiles.find_one({"_id": contact.id})
        return document["profile"]["given_name"] == contact.first_name and document

    document = await wait_for(refreshed)
    assert document["fresh_until"] > datetime.now(UTC)
    assert "refreshing_until" not in document  # the rewrite ended the lease
    after = await gateway.query(ME, headers=headers)
    assert after == {"data": {"me": {**body["data"]["me"], "givenName": contact.first_name}}}


async def test_fifty_concurrent_reads_of_a_stale_profile_make_one_refresh(
    settings, make_gateway, sandbox, tokens, contact, profiles, crm
):
    held = HeldUpstream(sandbox.url(crm.vendor))
    client = httpx.AsyncClient(transport=held)
    headers = bearer(tokens.customer(contact.id))
    async with client, make_gateway(settings, http_client=client) as gateway:
        await gateway.query(ME, headers=headers)
        await make_stale(profiles, contact.id, given_name=STALE_NAME)
        sandbox.reset_calls()
        held.hold()  # the refresh's CRM calls wait until every read has answered

        bodies = await asyncio.gather(*(gateway.query(ME, headers=headers) for _ in range(50)))

        assert [b["data"]["me"]["givenName"] for b in bodies] == [STALE_NAME] * 50
        assert all(warning_codes(b) == ["STALE_WHILE_REVALIDATE"] for b in bodies)

        async def refresh_waiting() -> bool:
            return held.held == 1  # one refresh, waiting on its first CRM call

        await wait_for(refresh_waiting)
        held.release()
        await wait_for(lambda: _given_name_is(profiles, contact.id, contact.first_name))
        await wait_for(lambda: _refresh_outcomes_are(gateway, refreshed=1))
        # one task in this process: not fifty that the MongoDB lease then turned away
        assert await _refresh_outcomes(gateway, outcome="leased_elsewhere") == 0

    assert crm.reads(sandbox.calls(crm.vendor)) == crm.one_assembly


async def test_gateways_sharing_one_mongodb_refresh_a_profile_once(
    settings, make_gateway, sandbox, tokens, contact, profiles, crm
):
    held = HeldUpstream(sandbox.url(crm.vendor))
    headers = bearer(tokens.customer(contact.id))
    async with (
        httpx.AsyncClient(transport=held) as one_client,
        httpx.AsyncClient(transport=held) as other_client,
        make_gateway(settings, http_client=one_client) as one,
        make_gateway(settings, http_client=other_client) as other,
    ):
        await one.query(ME, headers=headers)
        await make_stale(profiles, contact.id, given_name=STALE_NAME)
        sandbox.reset_calls()
        held.hold()

        bodies = await asyncio.gather(
            *(pod.query(ME, headers=headers) for _ in range(25) for pod in (one, other))
        )
        assert {b["data"]["me"]["givenName"] for b in bodies} == {STALE_NAME}

        # each gateway started one refresh; the lease lets only one of them go upstream
        async def lease_refused() -> bool:
            return await _refresh_outcomes(one, other, outcome="leased_elsewhere") == 1

        await wait_for(lease_refused)
        held.release()
        await wait_for(lambda: _given_name_is(profiles, contact.id, contact.first_name))

        async def one_refreshed() -> bool:
            return await _refresh_outcomes(one, other, outcome="refreshed") == 1

        await wait_for(one_refreshed)

    assert crm.reads(sandbox.calls(crm.vendor)) == crm.one_assembly


async def test_the_refresh_lease_goes_to_exactly_one_claimant(settings, gateway, tokens, contact):
    await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    async with database_of(settings) as database:
        cache = ProfileCache(database)
        claims = await asyncio.gather(
            *(cache.claim_refresh(contact.id, timedelta(seconds=30)) for _ in range(20))
        )
        assert claims.count(True) == 1
        assert not await cache.claim_refresh("003NOTCACHED000000", timedelta(seconds=30))


async def test_a_refresh_that_read_before_an_invalidation_does_not_overwrite_it(
    settings, gateway, sandbox, tokens, contact, profiles, crm
):
    headers = bearer(tokens.customer(contact.id))
    await gateway.query(ME, headers=headers)
    document = await profiles.find_one({"_id": contact.id})
    read_at = datetime.now(UTC) - timedelta(seconds=5)  # a slow refresh started back then
    async with database_of(settings) as database:
        cache = ProfileCache(database)
        assert await cache.invalidate_by_refs(crm.system, [contact.id]) == 1
        stale = {**document["profile"], "given_name": STALE_NAME}
        ttl = timedelta(seconds=300)
        written = await cache.put(contact.id, stale, fetched_at=read_at, soft_ttl=ttl, hard_ttl=ttl)
    assert written is False
    kept = await profiles.find_one({"_id": contact.id})
    assert kept["profile"]["given_name"] == contact.first_name
    assert kept["invalidated_at"] is not None
    sandbox.reset_calls()
    body = await gateway.query(ME, headers=headers)  # invalidated: read again, at once
    assert body["data"]["me"]["givenName"] == contact.first_name
    assert crm.reads(sandbox.calls(crm.vendor))["by_id"] == 1
    assert "invalidated_at" not in await profiles.find_one({"_id": contact.id})


async def test_concurrent_misses_share_one_assembly(gateway, sandbox, tokens, dataset, crm):
    contact_id = crm.id_of(dataset.crm_contacts[12])
    headers = bearer(tokens.staff(dataset.stores[0].id))
    bodies = await asyncio.gather(
        *(gateway.query(PROFILE, {"id": contact_id}, headers=headers) for _ in range(10))
    )
    assert all(b["data"]["customer"]["id"] == contact_id for b in bodies)
    assert crm.reads(sandbox.calls(crm.vendor)) == crm.one_assembly


async def _given_name_is(profiles, customer_id: str, name: str) -> bool:
    document = await profiles.find_one({"_id": customer_id})
    return document is not None and document["profile"]["given_name"] == name


async def _refresh_outcomes(*gateways, outcome: str) -> float:
    total = 0.0
    sample = f'omnigate_cache_lookups_total{{cache="profile_refresh",result="{outcome}"}}'
    for pod in gateways:
        text = (await pod.http.get("/metrics")).text
        total += sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(sample)
        )
    return total


async def _refresh_outcomes_are(gateway, *, refreshed: int) -> bool:
    return await _refresh_outcomes(gateway, outcome="refreshed") == refreshed
