"""The customer profile every vendor set must give: one person known under different ids
in each system merged into one profile, a person the CRM knows twice surfaced as an identity
conflict, and a change made in the CRM served instead of the cached copy."""

from __future__ import annotations

from collections import Counter

from cart_api import Device
from profile_support import ME, person_on_every_system, wait_for

from behaviour.retailer import Retailer

PROFILE = """
query ($id: ID!) {
  customer(id: $id) {
    id givenName familyName email
    externalRefs { system id }
    identityConflicts { field contactIds }
    loyalty { balance }
  }
}
"""
MY_ORDERS = "{ me { id orders(first: 50) { edges { node { channel } } } } }"


def systems_of(retailer: Retailer) -> set[str]:
    """The systems that know people: the set's CRM, POS and online shop."""
    ports = ("crm", "pos", "ecommerce")
    return {retailer.vendor_set.simulators[port].upper() for port in ports}


async def test_one_person_known_to_every_system_is_one_profile(retailer: Retailer):
    contact, _, _, account = person_on_every_system(retailer.dataset)
    crm_id = retailer.crm.id_of(contact)
    body = await retailer.client.query(PROFILE, {"id": crm_id}, headers=retailer.staff_headers())
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    assert customer["id"] == crm_id
    assert (customer["givenName"], customer["familyName"]) == (
        contact.first_name,
        contact.last_name,
    )
    assert customer["email"] == contact.email.strip().lower()
    assert {ref["system"] for ref in customer["externalRefs"]} == systems_of(retailer)
    assert {"system": retailer.crm.system, "id": crm_id} in customer["externalRefs"]
    assert customer["identityConflicts"] == []
    assert customer["loyalty"] == {"balance": account.balance}


async def test_me_has_the_orders_of_both_channels(retailer: Retailer):
    contact, pos_customer, shop_customer, _ = person_on_every_system(retailer.dataset)
    dataset = retailer.dataset
    body = await retailer.shopper(contact).run(MY_ORDERS)
    channels = Counter(edge["node"]["channel"] for edge in body["me"]["orders"]["edges"])
    assert channels == {
        "STORE": sum(o.customer_id == pos_customer.id for o in dataset.pos_orders),
        "ONLINE": sum(o.customer_id == shop_customer.id for o in dataset.online_orders),
    }


async def test_a_person_the_crm_knows_twice_is_a_conflict_not_a_merge(retailer: Retailer):
    first, second = (retailer.crm.id_of(c) for c in retailer.duplicated())
    body = await retailer.client.query(PROFILE, {"id": first}, headers=retailer.staff_headers())
    customer = body["data"]["customer"]
    conflicts = {c["field"]: c["contactIds"] for c in customer["identityConflicts"]}
    both = sorted([first, second])
    if retailer.vendor_set.excepts("crm-unique-emails"):
        assert conflicts == {"PHONE": both}
    else:
        assert conflicts == {"EMAIL": both, "PHONE": both}
    crm_refs = [r["id"] for r in customer["externalRefs"] if r["system"] == retailer.crm.system]
    assert crm_refs == [first]


async def test_a_change_in_the_crm_replaces_the_cached_profile(retailer: Retailer):
    contact = retailer.buyer(0)
    shopper = retailer.shopper(contact)
    assert (await shopper.run(ME))["me"]["givenName"] == contact.first_name  # now cached
    renamed = f"Renamed-{retailer.vendor_set.name}"
    with retailer.crm.renamed(retailer.sandbox, contact, renamed) as change:
        if retailer.vendor_set.excepts("crm-changes-polled"):
            polling = retailer.settings.with_changes(
                cache={
                    **retailer.settings.cache.model_dump(),
                    "crm_poll": True,
                    "crm_poll_interval_seconds": 0.1,
                }
            )
            async with retailer.other_gateway(polling) as gateway:
                polled = Device(gateway, shopper.headers)

                async def served() -> bool:
                    return (await polled.run(ME))["me"]["givenName"] == renamed

                await wait_for(served)
        else:
            webhook = change["webhook"]
            delivered = await retailer.client.http.post(
                f"/webhooks/{retailer.crm.vendor}",
                content=webhook["body"].encode(),
                headers=webhook["headers"],
            )
            assert delivered.status_code == 200, delivered.text
            assert delivered.json() == {"status": "applied", "invalidated": 1}
        assert (await shopper.run(ME))["me"]["givenName"] == renamed
