"""A customer's timeline: orders on both channels, the open cart, wishlist items and loyalty
movements in one newest-first list, over loopback against the sandbox and a real mongod;
once per CRM (the `crm` fixture). What staff and a kiosk after hand-off each see, paging,
and a faulted upstream giving a partial timeline with that source's error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cart_api import online_skus
from conftest import Crm, bearer
from fault_proxy import Fault, FaultProxy, behind_proxies, proxies_in_front_of
from profile_support import database_of, person_on_every_system

from gateway.settings import Settings
from sandbox.dataset import Dataset
from sandbox.square import SANDBOX_ACCESS_TOKEN

ENTRY = """
  __typename at
  ... on TimelineOrder { id channel number total { amount } lines { sku } detailsHidden }
  ... on TimelineCart { cartId lineCount quantity }
  ... on TimelineWishlistItem { sku }
  ... on TimelineLoyaltyMovement { id kind points orderId storeId }
"""
STAFF_TIMELINE = f"""
query Timeline($id: ID!, $first: Int!, $after: String) {{
  customer(id: $id) {{
    timeline(first: $first, after: $after) {{
      edges {{ cursor node {{ {ENTRY} }} }}
      pageInfo {{ hasNextPage endCursor }}
      missingSources
    }}
  }}
}}
"""
KIOSK_TIMELINE = f"""
query {{ me {{ timeline(first: 50) {{ nodes {{ {ENTRY} }} missingSources }} }} }}
"""


@pytest.fixture
def settings(settings: Settings, crm: Crm) -> Settings:
    return crm.settings(settings)


@pytest.fixture(scope="module")
def everywhere(dataset: Dataset):
    # these tests add loyalty points in the session's sandbox: not to the person
    # tests/test_customers.py reads the balance of
    return person_on_every_system(dataset, last=True)


@pytest.fixture
def staff(tokens, dataset: Dataset) -> dict[str, str]:
    return bearer(tokens.staff(dataset.stores[0].id))


async def run(gateway, headers: dict[str, str], document: str, **variables: Any) -> Any:
    body = await gateway.query(document, variables, headers=headers)
    assert "errors" not in body, body
    return body["data"]


async def give_her_a_cart_a_wish_and_points(
    gateway, tokens, sandbox, dataset, everywhere, crm
) -> str:
    """Her open cart (one line of 2), one wished product, 25 points adjusted at the POS."""
    contact, _, _, account = everywhere
    as_her = bearer(tokens.customer(crm.id_of(contact)))
    first_sku, wished = online_skus(dataset, count=2)
    await run(
        gateway,
        as_her,
        "mutation ($s: ID!) { cartCreate(lines: [{sku: $s, quantity: 2}]) { cart { id } } }",
        s=first_sku,
    )
    await run(
        gateway,
        as_her,
        "mutation ($s: ID!) { wishlistAdd(sku: $s) { wishlist { updatedAt } } }",
        s=wished,
    )
    async with httpx.AsyncClient(base_url=sandbox.url("square")) as square:
        answer = await square.post(
            f"/v2/loyalty/accounts/{account.id}/adjust",
            headers={"Authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}"},
            json={
                "idempotency_key": str(uuid.uuid4()),
                "adjust_points": {"points": 25, "reason": "goodwill"},
            },
        )
        answer.raise_for_status()
    return wished


async def test_one_list_of_every_source_newest_first(
    gateway, tokens, sandbox, dataset, staff, everywhere, crm
):
    wished = await give_her_a_cart_a_wish_and_points(
        gateway, tokens, sandbox, dataset, everywhere, crm
    )
    data = await run(gateway, staff, STAFF_TIMELINE, id=crm.id_of(everywhere[0]), first=50)
    timeline = data["customer"]["timeline"]
    assert timeline["missingSources"] == []
    nodes = [edge["node"] for edge in timeline["edges"]]
    times = [node["at"] for node in nodes]
    assert times == sorted(times, reverse=True)
    kinds = {node["__typename"] for node in nodes}
    assert kinds == {
        "TimelineOrder",
        "TimelineCart",
        "TimelineWishlistItem",
        "TimelineLoyaltyMovement",
    }
    orders = [n for n in nodes if n["__typename"] == "TimelineOrder"]
    assert {o["channel"] for o in orders} == {"STORE", "ONLINE"}
    assert all(o["total"] is not None and not o["detailsHidden"] for o in orders)
    [cart] = [n for n in nodes if n["__typename"] == "TimelineCart"]
    assert (cart["lineCount"], cart["quantity"]) == (1, 2)
    assert [n["sku"] for n in nodes if n["__typename"] == "TimelineWishlistItem"] == [wished]
    # the sandbox lives for the session: earlier tests' movements are there too, older
    newest = next(n for n in nodes if n["__typename"] == "TimelineLoyaltyMovement")
    assert (newest["kind"], newest["points"]) == ("ADJUST_POINTS", 25)


async def test_pages_give_every_entry_once_in_the_same_order(
    gateway, tokens, sandbox, dataset, staff, everywhere, crm
):
    await give_her_a_cart_a_wish_and_points(gateway, tokens, sandbox, dataset, everywhere, crm)
    customer_id = crm.id_of(everywhere[0])
    whole = await run(gateway, staff, STAFF_TIMELINE, id=customer_id, first=50)
    expected = [edge["cursor"] for edge in whole["customer"]["timeline"]["edges"]]
    assert len(expected) > 3
    seen: list[str] = []
    after = None
    while True:
        data = await run(gateway, staff, STAFF_TIMELINE, id=customer_id, first=3, after=after)
        page = data["customer"]["timeline"]
        seen += [edge["cursor"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


async def test_a_kiosk_after_hand_off_sees_other_channels_orders_without_details(
    gateway, tokens, sandbox, dataset, everywhere, crm
):
    await give_her_a_cart_a_wish_and_points(gateway, tokens, sandbox, dataset, everywhere, crm)
    store = dataset.stores[0].id
    as_her = bearer(tokens.customer(crm.id_of(everywhere[0])))
    created = await run(
        gateway,
        as_her,
        "mutation ($s: ID!) { kioskHandoffCreate(storeId: $s) { handoff { token } } }",
        s=store,
    )
    kiosk = {
        **bearer(tokens.kiosk(store)),
        "x-handoff-token": created["kioskHandoffCreate"]["handoff"]["token"],
    }
    nodes = (await run(gateway, kiosk, KIOSK_TIMELINE))["me"]["timeline"]["nodes"]
    orders = [n for n in nodes if n["__typename"] == "TimelineOrder"]
    online = [o for o in orders if o["channel"] == "ONLINE"]
    in_store = [o for o in orders if o["channel"] == "STORE"]
    assert online
    assert in_store
    assert all(o["detailsHidden"] and o["total"] is None and o["lines"] is None for o in online)
    assert all(not o["detailsHidden"] and o["total"] is not None for o in in_store)
    # the same customer on her own device sees her online orders in full
    own = (await run(gateway, as_her, KIOSK_TIMELINE))["me"]["timeline"]["nodes"]
    assert all(n["total"] is not None for n in own if n["__typename"] == "TimelineOrder")


async def test_a_staff_read_of_the_timeline_is_audited(gateway, settings, staff, everywhere, crm):
    customer_id = crm.id_of(everywhere[0])
    await run(gateway, staff, STAFF_TIMELINE, id=customer_id, first=5)
    async with database_of(settings) as database:
        [entry] = await database["audit_log"].find({"customer_id": customer_id}).to_list()
    assert entry["action"] == "customer.read"
    assert entry["fields"] == ["timeline"]


async def test_a_bad_cursor_is_bad_user_input(gateway, staff, everywhere, crm):
    body = await gateway.query(
        STAFF_TIMELINE,
        {"id": crm.id_of(everywhere[0]), "first": 5, "after": "not-a-cursor"},
        headers=staff,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


@pytest.fixture(scope="module")
def shopify_proxy(sandbox) -> Iterator[FaultProxy]:
    with proxies_in_front_of({"shopify": sandbox.url("shopify")}) as proxies:
        yield proxies["shopify"]


async def test_an_upstream_down_gives_the_other_sources_and_its_error(
    settings, make_gateway, shopify_proxy, tokens, sandbox, dataset, everywhere, crm
):
    faulted = behind_proxies(settings, {"shopify": shopify_proxy})
    staff = bearer(tokens.staff(dataset.stores[0].id))
    customer_id = crm.id_of(everywhere[0])
    async with make_gateway(faulted) as gateway:
        await give_her_a_cart_a_wish_and_points(gateway, tokens, sandbox, dataset, everywhere, crm)
        # the profile is read (and cached) while Shopify answers: the timeline is what fails
        await run(gateway, staff, "query ($id: ID!) { customer(id: $id) { id } }", id=customer_id)
        shopify_proxy.set(Fault.REFUSE)
        body = await gateway.query(STAFF_TIMELINE, {"id": customer_id, "first": 50}, headers=staff)
    shopify_proxy.set(Fault.PASS)
    timeline = body["data"]["customer"]["timeline"]
    assert timeline["missingSources"] == ["ONLINE_ORDERS"]
    [error] = body["errors"]
    assert error["path"] == ["customer", "timeline"]
    assert error["extensions"]["service"] == "shopify"
    assert error["extensions"]["source"] == "ONLINE_ORDERS"
    assert error["extensions"]["code"] in ("UPSTREAM_UNAVAILABLE", "CIRCUIT_OPEN")
    kinds = {node["__typename"] for node in (e["node"] for e in timeline["edges"])}
    assert kinds == {
        "TimelineOrder",
        "TimelineCart",
        "TimelineWishlistItem",
        "TimelineLoyaltyMovement",
    }
    channels = {e["node"]["channel"] for e in timeline["edges"] if "channel" in e["node"]}
    assert channels == {"STORE"}
