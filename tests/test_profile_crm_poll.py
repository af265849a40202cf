"""Salesforce has no signed webhooks: the gateway polls changed Contacts (SOQL
`LastModifiedDate >=`) and invalidates their cached profiles, one pod at a time (a lease in
MongoDB), resuming from a high-water mark kept in MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import bearer
from profile_support import ME, database_of, edited_contact, profiles_of, wait_for

from commerce.customers.cache import ProfileCache
from commerce.customers.crm_poll import LEASE, MARK, ContactChangePoller, advance
from commerce.leases import Leases
from commerce.sync_marks import SyncMark, SyncMarks
from connectors.http import UpstreamHttp
from connectors.records import CustomerIdentity, ExternalRef, System
from connectors.salesforce import SalesforceCrm, SalesforceSettings


def edited(sandbox, contact, **fields) -> Any:
    """Edit a Contact in the simulator as a user would; put the old values back after."""
    url = f"{sandbox.url('salesforce')}/_sandbox/salesforce/contacts/{contact.id}"
    old = {"FirstName": contact.first_name, "LastName": contact.last_name}
    return edited_contact(url, fields, {k: v for k, v in old.items() if k in fields})


@pytest.fixture
async def database(settings):
    async with database_of(settings) as database:
        yield database


async def test_an_edited_contact_has_its_cached_profile_invalidated(
    settings, make_gateway, sandbox, tokens, dataset, database
):
    contact = dataset.crm_contacts[-3]
    polling = settings.with_changes(cache={"crm_poll": True, "crm_poll_interval_seconds": 0.1})
    profiles = profiles_of(database)
    marks = database["sync_marks"]
    headers = bearer(tokens.customer(contact.id))
    async with make_gateway(polling) as gateway:
        before = await gateway.query(ME, headers=headers)
        assert before["data"]["me"]["givenName"] == contact.first_name
        await wait_for(lambda: marks.find_one({"_id": MARK}))  # the poller is at work

        with edited(sandbox, contact, FirstName="Renamed") as record:

            async def invalidated():
                document = await profiles.find_one({"_id": contact.id})
                return document.get("invalidated_at")

            await wait_for(invalidated)
            after = await gateway.query(ME, headers=headers)
            assert after["data"]["me"]["givenName"] == "Renamed"
            assert "errors" not in after

            mark = await marks.find_one({"_id": MARK})
            changed_at = datetime.strptime(record["LastModifiedDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
            assert mark["since"] <= changed_at
            assert {"id": contact.id, "at": changed_at} in mark["seen"]

            # polls that read the same change again (the window is inclusive and lags)
            # do not invalidate the profile a second time
            saved = mark["saved_at"]

            async def two_more_polls():
                later = await marks.find_one({"_id": MARK})
                return later["saved_at"] > saved + timedelta(seconds=0.2)

            await wait_for(two_more_polls)
            document = await profiles.find_one({"_id": contact.id})
            assert "invalidated_at" not in document
            assert document["profile"]["given_name"] == "Renamed"


@pytest.fixture
async def crm(sandbox) -> AsyncIterator[SalesforceCrm]:
    async with httpx.AsyncClient() as client:
        upstream = UpstreamHttp(client, service="salesforce", base_url=sandbox.url("salesforce"))
        yield SalesforceCrm(upstream, SalesforceSettings(login_url=sandbox.url("salesforce")))


def poller(crm, database, holder: str) -> ContactChangePoller:
    return ContactChangePoller(
        crm=crm,
        cache=ProfileCache(database),
        leases=Leases(database),
        marks=SyncMarks(database),
        holder=holder,
        interval_seconds=10,
        lag=timedelta(seconds=60),
        first_lookback=timedelta(hours=1),
    )


async def test_one_pod_polls_at_a_time_and_another_resumes_from_the_mark(
    crm, sandbox, dataset, database
):
    first, second = poller(crm, database, "pod-a"), poller(crm, database, "pod-b")
    contact = dataset.crm_contacts[-4]
    with edited(sandbox, contact, FirstName="Edited"):
        result = await first.poll_once()
        assert result is not None
        assert result.changed >= 1
        assert await second.poll_once() is None  # pod-a holds the lease
        assert await Leases(database).holder(LEASE) == "pod-a"
        assert (await first.poll_once()) is not None  # renewed by its holder

        # pod-a dies: once its lease runs out pod-b takes over from the stored mark, so
        # the change pod-a handled is not handled again
        await database["leases"].update_one(
            {"_id": LEASE}, {"$set": {"until": datetime.now(UTC) - timedelta(seconds=1)}}
        )
        taken_over = await second.poll_once()
        assert taken_over is not None
        assert taken_over.changed == 0
        assert await Leases(database).holder(LEASE) == "pod-b"


async def test_a_released_lease_is_free_at_once(crm, database):
    first, second = poller(crm, database, "pod-a"), poller(crm, database, "pod-b")
    assert await first.poll_once() is not None
    await first.release()
    assert await second.poll_once() is not None


# -- the high-water mark -------------------------------------------------------------------

T0 = datetime(2026, 11, 24, 9, 0, 0, tzinfo=UTC)


def changed(contact_id: str, at: datetime) -> CustomerIdentity:
    return CustomerIdentity(
        ExternalRef(System.SALESFORCE, contact_id), None, None, None, None, updated_at=at
    )


def test_the_mark_moves_to_the_newest_change_and_remembers_that_second():
    mark = advance(
        SyncMark(T0),
        [changed("A", T0 + timedelta(seconds=5)), changed("B", T0 + timedelta(seconds=9))],
        horizon=T0 + timedelta(hours=1),
    )
    assert mark == SyncMark(
        T0 + timedelta(seconds=9), frozenset({("B", T0 + timedelta(seconds=9))})
    )


def test_the_mark_never_passes_the_horizon_and_remembers_what_it_will_read_again():
    recent = [changed("A", T0 + timedelta(seconds=50)), changed("B", T0 + timedelta(seconds=70))]
    mark = advance(SyncMark(T0), recent, horizon=T0 + timedelta(seconds=60, microseconds=5))
    assert mark.since == T0 + timedelta(seconds=60)
    assert mark.seen == frozenset({("B", T0 + timedelta(seconds=70))})


def test_the_mark_never_goes_back():
    mark = advance(SyncMark(T0), [], horizon=T0 - timedelta(minutes=5))
    assert mark == SyncMark(T0)


def test_a_hard_ttl_shorter_than_the_soft_one_is_refused(settings):
    with pytest.raises(ValueError, match="profile_hard_ttl_seconds"):
        settings.with_changes(cache={"profile_ttl_seconds": 600, "profile_hard_ttl_seconds": 60})


async def test_changes_to_a_conflicting_contact_invalidate_the_profile_naming_it(database):
    cache = ProfileCache(database)
    await cache.ensure_indexes()
    profile = {
        "id": "003A",
        "external_refs": [{"system": "SALESFORCE", "id": "003A"}],
        "identity_conflicts": [
            {"field": "EMAIL", "value": "a@x.com", "contact_ids": ["003A", "003B"]}
        ],
    }
    ttl = timedelta(minutes=5)
    assert await cache.put(
        "003A", profile, fetched_at=datetime.now(UTC), soft_ttl=ttl, hard_ttl=ttl
    )
    assert await cache.invalidate_by_refs("SALESFORCE", ["003B"]) == 1
    assert await cache.invalidate_by_refs("SQUARE", ["003B"]) == 0
