"""The merged customer profile, its cache in MongoDB, and orders across channels.

Read as staff (`customer(id:)` is staff-only; tests/test_auth_customers.py holds who may
read what) and, for a customer's own profile, through `me`. Every test runs once per CRM
(the `crm` fixture, tests/conftest.py): Salesforce and HubSpot, over the same people.
"""

from __future__ import annotations

import pytest
from conftest import Crm, bearer
from profile_support import PROFILE, person_on_every_system

from gateway.settings import Settings
from sandbox.dataset import Dataset

ORDERS = """
query ($id: ID!, $first: Int!, $after: String) {
  customer(id: $id) {
    orders(first: $first, after: $after) {
      edges { cursor node {
        id channel createdAt number total { amount currency }
        store { id } lines { sku quantity }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@pytest.fixture
def settings(settings: Settings, crm: Crm) -> Settings:
    """This module's gateways read profiles from the CRM under test."""
    return crm.settings(settings)


@pytest.fixture
def staff(tokens, dataset: Dataset) -> dict[str, str]:
    return bearer(tokens.staff(dataset.stores[0].id))


@pytest.fixture(scope="module")
def everywhere(dataset: Dataset):
    return person_on_every_system(dataset)


async def test_profile_merges_crm_pos_and_online_identities(gateway, staff, everywhere, crm):
    contact, pos, shop, account = everywhere
    body = await gateway.query(PROFILE, {"id": crm.id_of(contact)}, headers=staff)
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    assert customer["givenName"] == contact.first_name
    assert customer["email"] == contact.email.strip().lower()
    assert customer["phone"].startswith("+1")
    assert customer["emailOptIn"] is (not contact.has_opted_out_of_email)
    refs = {(r["system"], r["id"]) for r in customer["externalRefs"]}
    assert refs == {
        (crm.system, crm.id_of(contact)),
        ("SQUARE", pos.id),
        ("SHOPIFY", f"gid://shopify/Customer/{shop.id}"),
    }
    assert customer["loyalty"]["balance"] == account.balance
    assert customer["loyalty"]["lifetimePoints"] == account.lifetime_points


async def test_second_read_within_the_ttl_makes_no_upstream_call(
    gateway, sandbox, staff, everywhere, crm
):
    contact_id = crm.id_of(everywhere[0])
    first = await gateway.query(PROFILE, {"id": contact_id}, headers=staff)
    assert sandbox.total_calls(crm.vendor) >= 1
    sandbox.reset_calls()
    second = await gateway.query(PROFILE, {"id": contact_id}, headers=staff)
    assert second == first
    assert sandbox.total_calls(crm.vendor) == 0
    assert sandbox.total_calls("square") == 0
    assert sandbox.total_calls("shopify") == 0


async def test_unknown_customer_is_null_for_staff(gateway, staff, crm):
    body = await gateway.query(PROFILE, {"id": crm.unknown_id}, headers=staff)
    assert body == {"data": {"customer": None}}


async def test_me_is_the_same_merged_profile_as_staff_see(gateway, tokens, staff, everywhere, crm):
    contact_id = crm.id_of(everywhere[0])
    as_staff = await gateway.query(PROFILE, {"id": contact_id}, headers=staff)
    me = PROFILE.replace("query ($id: ID!)", "query").replace("customer(id: $id)", "me")
    own = await gateway.query(me, headers=bearer(tokens.customer(contact_id)))
    assert own == {"data": {"me": as_staff["data"]["customer"]}}


async def test_orders_are_one_newest_first_stream_across_channels(
    gateway, dataset, staff, everywhere, crm
):
    contact, pos, shop, _ = everywhere
    contact_id = crm.id_of(contact)
    expected = {o.id for o in dataset.pos_orders if o.customer_id == pos.id} | {
        f"gid://shopify/Order/{o.id}" for o in dataset.online_orders if o.customer_id == shop.id
    }
    seen: list[dict] = []
    after = None
    while True:
        body = await gateway.query(
            ORDERS, {"id": contact_id, "first": 2, "after": after}, headers=staff
        )
        assert "errors" not in body, body
        page = body["data"]["customer"]["orders"]
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(expected)
    assert {order["id"] for order in seen} == expected
    created = [order["createdAt"] for order in seen]
    assert created == sorted(created, reverse=True)
    channels = {order["channel"] for order in seen}
    assert channels == {"STORE", "ONLINE"}
    for order in seen:
        assert (order["store"] is not None) == (order["channel"] == "STORE")
        assert order["lines"]
        assert all(line["sku"] for line in order["lines"])


ORDERS_IN = """
query ($id: ID!, $first: Int!, $after: String, $channel: Channel) {
  customer(id: $id) {
    orders(first: $first, after: $after, channel: $channel) {
      edges { cursor node { id channel createdAt store { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def all_orders(gateway, staff, contact_id, channel, after=None, first=2):
    seen: list[dict] = []
    while True:
        variables = {"id": contact_id, "first": first, "after": after, "channel": channel}
        body = await gateway.query(ORDERS_IN, variables, headers=staff)
        assert "errors" not in body, body
        page = body["data"]["customer"]["orders"]
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize(("channel", "asked", "not_asked"), [
    ("STORE", "square", "shopify"),
    ("ONLINE", "shopify", "square"),
])  # fmt: skip
async def test_the_channel_filter_keeps_one_channel_across_pages(
    gateway, sandbox, dataset, staff, everywhere, channel, asked, not_asked, crm
):
    contact, pos, shop, _ = everywhere
    contact_id = crm.id_of(contact)
    await gateway.query(PROFILE, {"id": contact_id}, headers=staff)  # profile cached
    expected = (
        {o.id for o in dataset.pos_orders if o.customer_id == pos.id}
        if channel == "STORE"
        else {
            f"gid://shopify/Order/{o.id}" for o in dataset.online_orders if o.customer_id == shop.id
        }
    )
    sandbox.reset_calls()
    seen = await all_orders(gateway, staff, contact_id, channel)
    assert [order["id"] for order in seen]
    assert {order["id"] for order in seen} == expected
    assert len(seen) == len(expected)
    assert {order["channel"] for order in seen} == {channel}
    created = [order["createdAt"] for order in seen]
    assert created == sorted(created, reverse=True)
    assert sandbox.total_calls(asked) >= 1
    assert sandbox.total_calls(not_asked) == 0


async def test_a_cursor_of_the_merged_stream_continues_a_filtered_one(
    gateway, staff, everywhere, crm
):
    contact_id = crm.id_of(everywhere[0])
    merged = await all_orders(gateway, staff, contact_id, None, first=100)
    body = await gateway.query(
        ORDERS_IN, {"id": contact_id, "first": 3, "channel": None}, headers=staff
    )
    cursor = body["data"]["customer"]["orders"]["edges"][-1]["cursor"]
    older_in_store = [o for o in merged[3:] if o["channel"] == "STORE"]
    continued = await all_orders(gateway, staff, contact_id, "STORE", after=cursor)
    assert [o["id"] for o in continued] == [o["id"] for o in older_in_store]
    # and both filters together are the merged stream, in the same order
    both = await all_orders(gateway, staff, contact_id, "STORE") + await all_orders(
        gateway, staff, contact_id, "ONLINE"
    )
    both.sort(key=lambda o: o["createdAt"], reverse=True)
    assert [o["id"] for o in both] == [o["id"] for o in merged]


async def test_a_cursor_this_api_never_gave_is_bad_user_input(gateway, staff, everywhere, crm):
    contact_id = crm.id_of(everywhere[0])
    body = await gateway.query(
        ORDERS_IN, {"id": contact_id, "first": 2, "after": "bm90IGEgY3Vyc29y"}, headers=staff
    )
    assert body["data"]["customer"]["orders"] is None
    [error] = body["errors"]
    assert error["path"] == ["customer", "orders"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
