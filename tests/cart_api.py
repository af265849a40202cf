"""GraphQL documents and small helpers shared by the cart, wishlist and checkout tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

CART_FIELDS = """
  id version status totalQuantity
  lines {
    id sku quantity addedUnitPrice { amount currency }
    unitPrice { amount currency } total { amount currency }
    priceChanged availableQuantity outOfStock
  }
  fulfillment { type store { id } }
  promoCodes { code applicable reason discount { amount } }
  cost { subtotal { amount currency } discount { amount } total { amount currency } }
"""
ERRORS = "userErrors { field message code reason }"

CART_CREATE = f"""
mutation ($lines: [CartLineInput!]) {{
  cartCreate(lines: $lines) {{ cartToken cart {{ {CART_FIELDS} }} {ERRORS} }}
}}
"""
CART = f"query ($id: ID) {{ cart(id: $id) {{ {CART_FIELDS} }} }}"
LINES_ADD = f"""
mutation ($cartId: ID!, $lines: [CartLineInput!]!, $v: Int) {{
  cartLinesAdd(cartId: $cartId, lines: $lines, expectedVersion: $v) {{
    cart {{ {CART_FIELDS} }} {ERRORS}
  }}
}}
"""
LINES_UPDATE = f"""
mutation ($cartId: ID!, $lines: [CartLineUpdateInput!]!, $v: Int) {{
  cartLinesUpdate(cartId: $cartId, lines: $lines, expectedVersion: $v) {{
    cart {{ {CART_FIELDS} }} {ERRORS}
  }}
}}
"""
LINES_REMOVE = f"""
mutation ($cartId: ID!, $ids: [ID!]!, $v: Int) {{
  cartLinesRemove(cartId: $cartId, lineIds: $ids, expectedVersion: $v) {{
    cart {{ {CART_FIELDS} }} {ERRORS}
  }}
}}
"""
SET_FULFILLMENT = f"""
mutation ($cartId: ID!, $type: FulfillmentType!, $storeId: ID) {{
  cartSetFulfillment(cartId: $cartId, type: $type, storeId: $storeId) {{
    cart {{ {CART_FIELDS} }} {ERRORS}
  }}
}}
"""
APPLY_CODE = f"""
mutation ($cartId: ID!, $code: String!) {{
  cartApplyPromoCode(cartId: $cartId, code: $code) {{ cart {{ {CART_FIELDS} }} {ERRORS} }}
}}
"""
REMOVE_CODE = f"""
mutation ($cartId: ID!, $code: String!) {{
  cartRemovePromoCode(cartId: $cartId, code: $code) {{ cart {{ {CART_FIELDS} }} {ERRORS} }}
}}
"""
MERGE = f"""
mutation ($token: String, $policy: CartMergePolicy) {{
  cartMergeGuest(guestCartToken: $token, policy: $policy) {{ cart {{ {CART_FIELDS} }} {ERRORS} }}
}}
"""
# Square's Sandbox test token that authorises: what a payment form gives for a good card
CARD_OK = "cnon:card-nonce-ok"
ONLINE_CHANNELS = ("WEB", "MOBILE")

CHECKOUT = f"""
mutation ($cartId: ID!, $channel: SalesChannel!, $key: String!, $paymentToken: String) {{
  checkout(
    cartId: $cartId, channel: $channel, idempotencyKey: $key, paymentToken: $paymentToken
  ) {{
    replayed
    order {{ id channel total {{ amount currency }} lines {{ sku quantity }} store {{ id }} }}
    cart {{ id status version }}
    {ERRORS}
  }}
}}
"""


def stocked_skus(dataset: Dataset, location_id: str, at_least: int, count: int) -> list[str]:
    """SKUs of which `location_id` holds at least `at_least` units."""
    found = []
    for product in dataset.products:
        if dataset.inventory.get((product.square_variation_id, location_id), 0) >= at_least:
            found.append(product.sku)
            if len(found) == count:
                return found
    raise AssertionError(f"fewer than {count} SKUs with {at_least} units at {location_id}")


def online_skus(dataset: Dataset, at_least: int = 50, count: int = 3) -> list[str]:
    return stocked_skus(dataset, WAREHOUSE_LOCATION_ID, at_least, count)


def stock_at(dataset: Dataset, sku: str, location_id: str) -> int:
    product = dataset.products_by_sku[sku]
    return dataset.inventory.get((product.square_variation_id, location_id), 0)


@dataclass
class Device:
    """One device of a shopper: a gateway client and the credentials it sends."""

    client: Any
    headers: dict[str, str]

    async def run(self, document: str, **variables: Any) -> Any:
        body = await self.raw(document, **variables)
        assert "errors" not in body, body
        return body["data"]

    async def raw(self, document: str, **variables: Any) -> Any:
        return await self.client.query(document, paid(document, variables), headers=self.headers)


def card_for(channel: str) -> str | None:
    """The token an online checkout on `channel` sends; in store, none (the terminal)."""
    return CARD_OK if channel in ONLINE_CHANNELS else None


def paid(document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """An online checkout pays with the Sandbox's good card unless the test names a token
    (or None: `paymentToken=None` sends none), as a payment form would."""
    online = variables.get("channel", variables.get("c", "WEB")) in ONLINE_CHANNELS
    if "$paymentToken" in document and online and "paymentToken" not in variables:
        return {**variables, "paymentToken": CARD_OK}
    return variables


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


HANDOFF_CREATE = """
mutation ($storeId: ID!) {
  kioskHandoffCreate(storeId: $storeId) { handoff { token } userErrors { code } }
}
"""


def staff_at(client: Any, tokens: Any, store_id: str, staff_id: str = "staff-0001") -> Device:
    """A till of `store_id`: the principal that acts on the STORE channel."""
    return Device(client, {"authorization": f"Bearer {tokens.staff(store_id, staff_id)}"})


async def kiosk_for(
    client: Any, tokens: Any, customer: Device, store_id: str, device_id: str = "kiosk-0001"
) -> Device:
    """A kiosk of `store_id` the `customer` (a Device with their own token) has handed their
    identity to: the principal that acts on the KIOSK channel with their cart."""
    payload = (await customer.run(HANDOFF_CREATE, storeId=store_id))["kioskHandoffCreate"]
    assert payload["userErrors"] == [], payload
    return Device(
        client,
        {
            "authorization": f"Bearer {tokens.kiosk(store_id, device_id)}",
            "x-handoff-token": payload["handoff"]["token"],
        },
    )


def known_everywhere(dataset: Dataset) -> list[str]:
    """CRM contacts with exactly one CRM record, known to the POS and the online shop too,
    from the end of the dataset (the order-history tests count orders of the first ones)."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos = {c.person_key for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    return [
        contact.id
        for contact in reversed(dataset.crm_contacts)
        if crm_count[contact.person_key] == 1
        and contact.person_key in pos
        and contact.person_key in shop
    ]


def person_with_both_channels(dataset: Dataset) -> str:
    """A CRM contact whose Shopify customer has online orders and POS receipts."""
    crm = {c.id: c.person_key for c in dataset.crm_contacts}
    pos_buyers = {c.id: c.person_key for c in dataset.pos_customers}
    in_store = {pos_buyers[o.customer_id] for o in dataset.pos_orders}
    shop = {c.id: c.person_key for c in dataset.shop_customers}
    online = {shop[o.customer_id] for o in dataset.online_orders}
    return next(cid for cid in known_everywhere(dataset) if crm[cid] in in_store & online)
