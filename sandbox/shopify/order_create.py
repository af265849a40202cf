"""`orderCreate` and `orderByIdentifier`: placing an order, and finding it by custom ID.

Shopify's contract, as its Admin API reference and changelog state it:

- `orderCreate` takes no idempotency key: every call that passes validation is a new
  order (the `@idempotent` directive covers refund and inventory mutations, not this one);
- a refusal is `userErrors {code field message}` with `order: null`, HTTP 200;
- a metafield of type `id` is a custom ID, unique across the resource type ("ID metafield
  types are automatically configured to have unique values"), so a second order with the
  same custom ID is refused; the shop's `id` metafield definition is taken as existing;
- `orderByIdentifier(identifier: {customId: {namespace, key, value}})` reads the order
  holding a custom ID directly, with no search-index delay; an omitted namespace is the
  calling app's own.

- `transactions` records payments taken elsewhere (a SALE with status SUCCESS naming its
  `gateway` and `authorizationCode`); without a `financialStatus` the order's is derived
  from them (PAID when the successful sales cover the total).

The simulator does not charge payments, compute taxes or claim inventory: an order's total
is its lines less its one fixed discount code.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.dataset import LineItem
from sandbox.shopify.rows import Graph, iso, money_bag
from sandbox.shopify.store import APP_NAMESPACE, ShopData

Info = GraphQLResolveInfo[ShopData]
# Shopify's `sourceName` of an order an app creates without naming one: the app's API client
# id; and the app itself (the sandbox's custom app)
API_SOURCE_NAME = "70000002"
API_APP: Graph = {"__typename": "OrderApp", "id": "gid://shopify/App/70000002", "name": "omnigate"}


class _Refused(Exception):
    """One user error; the mutation answers it instead of an order."""

    def __init__(self, field: list[str], message: str, code: str = "INVALID") -> None:
        super().__init__(message)
        self.error = {"code": code, "field": field, "message": message}


def order_create(
    _root: None, info: Info, order: dict[str, Any], options: dict[str, Any] | None = None
) -> Graph:
    data = info.context
    try:
        return {"order": _place(data, order), "userErrors": []}
    except _Refused as refused:
        return {"order": None, "userErrors": [refused.error]}


def order_by_identifier(_root: None, info: Info, identifier: dict[str, Any]) -> Graph | None:
    data = info.context
    order_id, custom = identifier.get("id"), identifier.get("customId")
    if (order_id is None) == (custom is None):
        raise GraphQLError("Exactly one of `id` or `customId` must be provided.")
    if custom is not None:
        return data.order_by_custom_id(custom.get("namespace"), custom["key"], custom["value"])
    found = data.node(str(order_id))
    return found if found is not None and found.get("__typename") == "Order" else None


def order_metafield(parent: Graph, info: Info, key: str, namespace: str | None = None) -> Any:
    stored: dict[tuple[str, str], Graph] = parent.get("_metafields") or {}
    return stored.get((namespace or APP_NAMESPACE, key))


def _place(data: ShopData, order: dict[str, Any]) -> Graph:
    currency = str(data.shop["currencyCode"])
    if order.get("currency") not in (None, currency):
        raise _Refused(["order", "currency"], f"Currency must be the shop's currency {currency}.")
    customer = None
    associate = (order.get("customer") or {}).get("toAssociate")
    if associate is not None:
        customer = data.customer_row(str(associate.get("id") or ""))
        if customer is None:
            raise _Refused(["order", "customer", "toAssociate", "id"], "Customer does not exist.")
    items = order.get("lineItems") or []
    if not items:
        raise _Refused(["order", "lineItems"], "Line items must contain at least one item.")
    lines = [_line(data, index, item, currency) for index, item in enumerate(items)]
    discount, code = _discount(order.get("discountCode"), currency)
    metafields = _metafields(data, order.get("metafields") or [])
    transactions = [
        _transaction(data, index, given, currency)
        for index, given in enumerate(order.get("transactions") or [])
    ]
    extra: Graph = {
        # an order an app creates comes from that app unless it names its own source
        "sourceName": order.get("sourceName") or API_SOURCE_NAME,
        "app": API_APP,
        "transactions": transactions,
        "discountCode": code,
        "note": order.get("note"),
        "tags": sorted({str(tag).strip() for tag in order.get("tags") or [] if str(tag).strip()}),
        "customAttributes": [
            {"key": a["key"], "value": a["value"]} for a in order.get("customAttributes") or []
        ],
    }
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    status = order.get("financialStatus") or _financial_status(
        transactions, subtotal - min(discount, subtotal)
    )
    return data.place_order(lines, customer, discount, str(status), extra, metafields)


def _transaction(data: ShopData, index: int, given: dict[str, Any], currency: str) -> Graph:
    """An OrderCreateOrderTransactionInput as the OrderTransaction the order shows."""
    where = ["order", "transactions", str(index)]
    amount = _price(given.get("amountSet"), currency, [*where, "amountSet"])
    if amount is None:
        raise _Refused([*where, "amountSet"], "Amount can't be blank.")
    moment = iso(data.wall_clock())
    return {
        "__typename": "OrderTransaction",
        "id": f"gid://shopify/OrderTransaction/{data.next_transaction_id()}",
        "kind": given.get("kind") or "SALE",
        "status": given.get("status") or "SUCCESS",
        "gateway": given.get("gateway") or "manual",
        "authorizationCode": given.get("authorizationCode"),
        "amountSet": money_bag(amount),
        "createdAt": moment,
        "processedAt": given.get("processedAt") or moment,
        "test": bool(given.get("test")),
    }


def _financial_status(transactions: list[Graph], total: Decimal) -> str:
    """Without a `financialStatus`, Shopify derives it from the transactions: the successful
    sales and captures against the total."""
    paid = sum(
        (
            Decimal(t["amountSet"]["shopMoney"]["amount"])
            for t in transactions
            if t["status"] == "SUCCESS" and t["kind"] in ("SALE", "CAPTURE")
        ),
        Decimal(0),
    )
    if paid <= 0:
        return "PENDING"
    return "PAID" if paid >= total else "PARTIALLY_PAID"


def _line(data: ShopData, index: int, item: dict[str, Any], currency: str) -> LineItem:
    where = ["order", "lineItems", str(index)]
    quantity = int(item["quantity"])
    if quantity < 1:
        raise _Refused([*where, "quantity"], "Quantity must be greater than or equal to 1.")
    price = _price(item.get("priceSet"), currency, [*where, "priceSet"])
    variant_id = item.get("variantId")
    if variant_id is not None:
        row = data.variant_row(str(variant_id))
        if row is None:
            raise _Refused([*where, "variantId"], "Product variant does not exist.")
        return LineItem(
            sku=row.product.sku,
            name=row.product.title,
            quantity=quantity,
            unit_price=row.product.price if price is None else price,
            square_variation_id=row.product.square_variation_id,
            shopify_variant_id=row.variant_id,
        )
    title = str(item.get("title") or "").strip()
    if not title:
        raise _Refused([*where, "title"], "Title can't be blank for a custom line item.")
    if price is None:
        raise _Refused([*where, "priceSet"], "Price can't be blank for a custom line item.")
    return LineItem(str(item.get("sku") or ""), title, quantity, price, "", 0)


def _price(bag: Any, currency: str, where: list[str]) -> Decimal | None:
    if bag is None:
        return None
    shop_money = bag["shopMoney"]
    if shop_money["currencyCode"] != currency:
        raise _Refused([*where, "shopMoney", "currencyCode"], f"Currency must be {currency}.")
    try:
        amount = Decimal(str(shop_money["amount"]))
    except InvalidOperation as exc:
        raise _Refused([*where, "shopMoney", "amount"], "Amount is not a number.") from exc
    if not amount.is_finite() or amount < 0:
        raise _Refused([*where, "shopMoney", "amount"], "Amount must not be negative.")
    return amount


def _discount(code: Any, currency: str) -> tuple[Decimal, str | None]:
    fixed = (code or {}).get("itemFixedDiscountCode")
    if fixed is None:
        return Decimal(0), None
    where = ["order", "discountCode", "itemFixedDiscountCode"]
    amount = _price(fixed.get("amountSet"), currency, [*where, "amountSet"])
    return amount or Decimal(0), str(fixed["code"])


def _metafields(data: ShopData, given: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for index, field in enumerate(given):
        where = ["order", "metafields", str(index)]
        for name in ("key", "value", "type"):
            if not field.get(name):
                raise _Refused([*where, name], f"{name.capitalize()} can't be blank.")
        namespace = str(field.get("namespace") or APP_NAMESPACE)
        key, kind, value = str(field["key"]), str(field["type"]), str(field["value"])
        if kind == "id" and (
            data.custom_id_taken(namespace, key, value)
            or any(f[:3] == (namespace, key, "id") and f[3] == value for f in found)
        ):
            raise _Refused([*where, "value"], "Value is already taken by another order.")
        found.append((namespace, key, kind, value))
    return found
