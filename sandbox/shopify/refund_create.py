"""`refundCreate`: a refund recorded on an order, exactly once per `@idempotent` key.

Shopify's contract (Admin API `refundCreate`, "Make API requests idempotent"): the
`@idempotent(key:)` directive on the field makes a retry with the same key and input answer
the first refund and refund nothing more; the same key with another input is refused.
A REFUND transaction names its `parentId`, the SALE or CAPTURE it refunds, on the same
gateway, and never for more than is left of it ("Amount exceeds the refundable amount"); a
payment taken elsewhere (an external gateway) is only recorded, not moved. The order's
financial status becomes PARTIALLY_REFUNDED, or REFUNDED once everything paid came back.

The simulator refunds through transactions only (no `refundLineItems`: the shop holds no
stock to restock in this setup, Square does).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.shopify.idempotency import idempotency_key
from sandbox.shopify.rows import Graph, iso, money_bag
from sandbox.shopify.store import ShopData

Info = GraphQLResolveInfo[ShopData]
PAID_KINDS = ("SALE", "CAPTURE")


def refund_create(_root: None, info: Info, input: dict[str, Any]) -> Graph:
    data = info.context
    key = idempotency_key(info)
    fingerprint = hashlib.sha256(json.dumps(input, sort_keys=True).encode()).hexdigest()
    if key is not None and key in data.refund_keys:
        first, payload = data.refund_keys[key]
        if first != fingerprint:
            raise GraphQLError(
                "The idempotency key was already used with a different request.",
                extensions={"code": "IDEMPOTENCY_CONCURRENT_REQUEST"},
            )
        return payload
    payload = _refund(data, input)
    if key is not None and payload["refund"] is not None:
        data.refund_keys[key] = (fingerprint, payload)
    return payload


def _refund(data: ShopData, given: dict[str, Any]) -> Graph:
    order = data.node(str(given["orderId"]))
    if order is None or order.get("__typename") != "Order":
        return _refused(["orderId"], "Order does not exist.")
    transactions = given.get("transactions") or []
    if not transactions:
        return _refused(["transactions"], "A refund needs at least one transaction.")
    by_id = {t["id"]: t for t in order["transactions"]}
    made: list[Graph] = []
    total = Decimal(0)
    for index, transaction in enumerate(transactions):
        where = ["transactions", str(index)]
        parent = by_id.get(str(transaction.get("parentId")))
        if transaction["kind"] != "REFUND" or parent is None or parent["kind"] not in PAID_KINDS:
            return _refused([*where, "parentId"], "A refund refunds a sale or capture.")
        if transaction["gateway"] != parent["gateway"]:
            return _refused([*where, "gateway"], "Gateway must be the parent's.")
        try:
            amount = Decimal(str(transaction["amount"]))
        except InvalidOperation:
            return _refused([*where, "amount"], "Amount is invalid.")
        left = _amount(parent) - sum(
            (_amount(t) for t in order["transactions"] if t.get("_parentId") == parent["id"]),
            Decimal(0),
        )
        if amount <= 0 or amount > left:
            return _refused([*where, "amount"], "Amount exceeds the refundable amount.")
        moment = iso(data.wall_clock())
        made.append(
            {
                "__typename": "OrderTransaction",
                "id": f"gid://shopify/OrderTransaction/{data.next_transaction_id()}",
                "kind": "REFUND",
                "status": "SUCCESS",
                "gateway": parent["gateway"],
                "authorizationCode": None,
                "amountSet": money_bag(amount),
                "createdAt": moment,
                "processedAt": moment,
                "test": False,
                "_parentId": parent["id"],
            }
        )
        total += amount
    order["transactions"] = [*order["transactions"], *made]
    refund: Graph = {
        "__typename": "Refund",
        "id": f"gid://shopify/Refund/{data.next_refund_id()}",
        "createdAt": made[0]["createdAt"],
        "note": given.get("note"),
        "totalRefundedSet": money_bag(total),
    }
    order["refunds"] = [*order.get("refunds", []), refund]
    paid = sum((_amount(t) for t in order["transactions"] if t["kind"] in PAID_KINDS), Decimal(0))
    refunded = sum((_amount(t) for t in order["transactions"] if t["kind"] == "REFUND"), Decimal(0))
    order["displayFinancialStatus"] = "REFUNDED" if refunded >= paid else "PARTIALLY_REFUNDED"
    return {"order": order, "refund": refund, "userErrors": []}


def _amount(transaction: Graph) -> Decimal:
    return Decimal(transaction["amountSet"]["shopMoney"]["amount"])


def _refused(field: list[str], message: str) -> Graph:
    return {"order": None, "refund": None, "userErrors": [{"field": field, "message": message}]}
