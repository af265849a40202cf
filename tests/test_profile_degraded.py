"""Degraded mode: with the CRM stopped or past its deadline (tests/fault_proxy.py in front
of it), a cached copy is served with STALE_DATA and its age at the path of the stale
field, until its hard TTL; with no copy the field is null with the upstream's error.
Nothing stale is served as fresh. Every test runs once per CRM (the `crm` fixture)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Crm, bearer
from fault_proxy import Fault, FaultProxy, behind_proxies, proxies_in_front_of
from profile_support import ME, database_of, make_stale, profiles_of, wait_for

RESILIENCE = {
    "deadline_seconds": 0.4,
    "connect_timeout_seconds": 0.2,
    "retries": 1,
    "backoff_base_seconds": 0.02,
    "backoff_max_seconds": 0.05,
    "breaker_min_calls": 1000,  # every call goes out: the breaker has its own tests
}
STALE_NAME = "Copy-Of-Before"


@dataclass(frozen=True)
class Contact:
    """A dataset contact as the CRM under test knows it."""

    id: str
    first_name: str


@pytest.fixture
def settings(settings, crm: Crm):
    return crm.settings(settings)


@pytest.fixture(scope="module")
def crm_proxy(sandbox, crm: Crm) -> Iterator[FaultProxy]:
    with proxies_in_front_of({crm.vendor: sandbox.url(crm.vendor)}) as proxies:
        yield proxies[crm.vendor]


@pytest.fixture
def degraded_settings(settings, crm_proxy, crm: Crm):
    return behind_proxies(
        settings,
        {crm.vendor: crm_proxy},
        # tight on the faulted CRM only: the POS and e-commerce keep their defaults, so a
        # slow first answer from them (a loaded CI machine) is not mistaken for the fault
        upstreams={crm.vendor: RESILIENCE},
        request_deadline_seconds=2.0,
        cache={"profile_refresh_retry_seconds": 30},
    )


@pytest.fixture
async def profiles(settings):
    async with database_of(settings) as database:
        yield profiles_of(database)


@pytest.fixture
def contact(dataset, crm: Crm) -> Contact:
    found = dataset.crm_contacts[21]
    return Contact(crm.id_of(found), found.first_name)


@pytest.mark.parametrize(
    "fault", [Fault.REFUSE, Fault.TIMEOUT], ids=["crm-down", "crm-past-its-deadline"]
)
async def test_an_invalidated_copy_is_served_stale_when_the_crm_fails(
    degraded_settings, make_gateway, crm_proxy, tokens, contact, profiles, fault, crm
):
    headers = bearer(tokens.customer(contact.id))
    async with make_gateway(degraded_settings) as gateway:
        fresh = await gateway.query(ME, headers=headers)
        assert "errors" not in fresh, fresh
        # a copy read ten minutes ago, then invalidated: its age is what the answer states
        now = datetime.now(UTC)
        await profiles.update_one(
            {"_id": contact.id},
            {"$set": {"invalidated_at": now, "fetched_at": now - timedelta(seconds=600)}},
        )
        crm_proxy.set(fault)

        body = await gateway.query(ME, headers=headers)

    assert body["data"] == fresh["data"]
    [error] = body["errors"]
    assert error["path"] == ["me"]
    assert error["extensions"]["code"] == "STALE_DATA"
    assert error["extensions"]["service"] == crm.vendor
    assert 600 <= error["extensions"]["ageSeconds"] <= 660
    assert crm_proxy.seen() >= 1  # the CRM was asked, and failed


async def test_stale_data_is_at_the_path_of_the_stale_field_only(
    degraded_settings, make_gateway, crm_proxy, tokens, dataset, contact, profiles
):
    """Under an alias, beside a field that is not stale: the error names the stale one."""
    query = """
    query ($id: ID!, $store: ID!) {
      shop: store(id: $store) { id }
      cached: customer(id: $id) { id givenName }
    }
    """
    variables = {"id": contact.id, "store": dataset.stores[0].id}
    headers = bearer(tokens.staff(dataset.stores[0].id))
    async with make_gateway(degraded_settings) as gateway:
        fresh = await gateway.query(query, variables, headers=headers)
        assert "errors" not in fresh, fresh
        await profiles.update_one(
            {"_id": contact.id}, {"$set": {"invalidated_at": datetime.now(UTC)}}
        )
        crm_proxy.set(Fault.REFUSE)
        body = await gateway.query(query, variables, headers=headers)
    assert body["data"] == fresh["data"]
    [error] = body["errors"]
    assert error["path"] == ["cached"]
    assert error["extensions"]["code"] == "STALE_DATA"


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault.REFUSE, "UPSTREAM_UNAVAILABLE"), (Fault.TIMEOUT, "UPSTREAM_TIMEOUT")],
    ids=["crm-down", "crm-past-its-deadline"],
)
async def test_without_a_copy_the_field_is_null_with_the_upstream_error(
    degraded_settings, make_gateway, crm_proxy, tokens, contact, fault, code, crm
):
    async with make_gateway(degraded_settings) as gateway:
        crm_proxy.set(fault)
        body = await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
    assert body["data"] == {"me": None}
    [error] = body["errors"]
    assert error["path"] == ["me"]
    assert error["extensions"] == {"code": code, "service": crm.vendor}


async def test_a_copy_past_its_hard_ttl_is_never_served(
    degraded_settings, make_gateway, crm_proxy, tokens, contact, profiles
):
    headers = bearer(tokens.customer(contact.id))
    async with make_gateway(degraded_settings) as gateway:
        warm = await gateway.query(ME, headers=headers)  # the profile cached
        assert "errors" not in warm, warm
        await profiles.update_one({"_id": contact.id}, {"$set": {"expires_at": datetime.now(UTC)}})
        crm_proxy.set(Fault.REFUSE)
        body = await gateway.query(ME, headers=headers)
    assert body["data"] == {"me": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]


async def test_past_the_soft_ttl_a_failed_refresh_turns_revalidating_into_stale_and_back(
    degraded_settings, make_gateway, crm_proxy, tokens, contact, profiles, crm
):
    headers = bearer(tokens.customer(contact.id))
    async with make_gateway(degraded_settings) as gateway:
        warm = await gateway.query(ME, headers=headers)  # the profile cached
        assert "errors" not in warm, warm
        await make_stale(profiles, contact.id, given_name=STALE_NAME)
        crm_proxy.set(Fault.REFUSE)

        # 1. served at once, said to be revalidating; the refresh in the background fails
        first = await gateway.query(ME, headers=headers)
        assert first["data"]["me"]["givenName"] == STALE_NAME
        assert "errors" not in first
        assert [w["code"] for w in first["extensions"]["warnings"]] == ["STALE_WHILE_REVALIDATE"]

        async def failure_recorded():
            document = await profiles.find_one({"_id": contact.id})
            return document.get("refresh_failure")

        failure = await wait_for(failure_recorded)
        assert (failure["service"], failure["code"]) == (crm.vendor, "UPSTREAM_UNAVAILABLE")

        # 2. the copy is now known stale; no refresh is tried again during the back-off
        crm_proxy.reset_counts()
        second = await gateway.query(ME, headers=headers)
        assert second["data"] == first["data"]
        [error] = second["errors"]
        assert error["path"] == ["me"]
        assert error["extensions"]["code"] == "STALE_DATA"
        assert error["extensions"]["service"] == crm.vendor
        assert error["extensions"]["ageSeconds"] >= 0
        assert crm_proxy.seen() == 0

    # 3. the CRM is back and the back-off over (a pod that did not see the failure, so
    # holds no back-off of its own): still stale while the refresh runs...
    crm_proxy.set(Fault.PASS)
    await profiles.update_one(
        {"_id": contact.id},
        {"$set": {"refreshing_until": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    async with make_gateway(degraded_settings) as other_pod:
        third = await other_pod.query(ME, headers=headers)
        assert [e["extensions"]["code"] for e in third["errors"]] == ["STALE_DATA"]

        async def refreshed():
            document = await profiles.find_one({"_id": contact.id})
            return document["profile"]["given_name"] == contact.first_name

        await wait_for(refreshed)

        # 4. ...and fresh once it has
        fourth = await other_pod.query(ME, headers=headers)
    assert fourth == {"data": {"me": {**first["data"]["me"], "givenName": contact.first_name}}}


async def test_a_failing_pos_on_an_invalidated_copy_is_stale_too(
    settings, make_gateway, sandbox, tokens, contact, profiles
):
    with proxies_in_front_of({"square": sandbox.url("square")}) as proxies:
        faulty = behind_proxies(settings, proxies, upstreams={"square": RESILIENCE})
        headers = bearer(tokens.customer(contact.id))
        async with make_gateway(faulty) as gateway:
            fresh = await gateway.query(ME, headers=headers)
            assert "errors" not in fresh, fresh
            await profiles.update_one(
                {"_id": contact.id}, {"$set": {"invalidated_at": datetime.now(UTC)}}
            )
            proxies["square"].set(Fault.HTTP_500)
            body = await gateway.query(ME, headers=headers)
    assert body["data"] == fresh["data"]
    [error] = body["errors"]
    assert (error["path"], error["extensions"]["code"]) == (["me"], "STALE_DATA")
    assert error["extensions"]["service"] == "square"


@pytest.fixture
def store_shopper(dataset, crm: Crm) -> Contact:
    """A contact the CRM holds once whose POS customer has receipts."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    with_receipts = {o.customer_id for o in dataset.pos_orders}
    pos_people = {c.person_key for c in dataset.pos_customers if c.id in with_receipts}
    found = next(
        c
        for c in dataset.crm_contacts
        if crm_count[c.person_key] == 1 and c.person_key in pos_people and c.phone
    )
    return Contact(crm.id_of(found), found.first_name)


async def test_a_failing_pos_nulls_the_orders_and_leaves_the_profile(
    settings, make_gateway, sandbox, tokens, store_shopper
):
    """Orders are read live, never cached: the POS down makes `orders` null with its error
    (never the online orders alone, as if they were all), while the cached profile is
    answered as it is."""
    contact = store_shopper
    query = """
    query {
      me { id givenName orders(first: 2) { edges { node { id } } } }
    }
    """
    with proxies_in_front_of({"square": sandbox.url("square")}) as proxies:
        faulty = behind_proxies(settings, proxies, upstreams={"square": RESILIENCE})
        headers = bearer(tokens.customer(contact.id))
        async with make_gateway(faulty) as gateway:
            await gateway.query(ME, headers=headers)  # the profile cached
            proxies["square"].set(Fault.REFUSE)
            body = await gateway.query(query, headers=headers)
    assert body["data"]["me"]["id"] == contact.id
    assert body["data"]["me"]["givenName"] == contact.first_name
    assert body["data"]["me"]["orders"] is None
    [error] = body["errors"]
    assert error["path"] == ["me", "orders"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "service": "square"}
