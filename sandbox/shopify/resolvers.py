"""The executable Admin schema: the SDL subset with resolvers over `ShopData`.

Objects are prebuilt dicts (see store.py), so graphql-core's default resolver serves every
plain field; only root fields and connections with arguments need code. The schema is built
once per process: parsing SDL is the expensive part and the data arrives per request
through `info.context`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, build_schema

from sandbox.shopify.connection import connection
from sandbox.shopify.filters import Searchable
from sandbox.shopify.inventory_adjust import inventory_adjust_quantities
from sandbox.shopify.order_create import order_by_identifier, order_create, order_metafield
from sandbox.shopify.refund_create import refund_create
from sandbox.shopify.retail import quantities
from sandbox.shopify.rows import Graph
from sandbox.shopify.store import ShopData

Row = TypeVar("Row")
Info = GraphQLResolveInfo[ShopData]


@lru_cache(maxsize=1)
def admin_schema() -> GraphQLSchema:
    sdl = resources.files("sandbox.shopify").joinpath("schema.graphql").read_text("utf-8")
    schema = build_schema(sdl)
    _attach(schema, "QueryRoot", _ROOT)
    _attach(schema, "Product", {"variants": _nested("_variants"), "media": _nested("_media")})
    _attach(schema, "Product", {"images": _nested("_images")})
    _attach(schema, "Order", {"lineItems": _nested("_lines"), "metafield": order_metafield})
    _attach(schema, "Order", {"fulfillments": _fulfillments})
    _attach(schema, "Mutation", {"orderCreate": order_create, "refundCreate": refund_create})
    _attach(schema, "Mutation", {"inventoryAdjustQuantities": inventory_adjust_quantities})
    _attach(schema, "Order", {"refunds": _refunds})
    _attach(schema, "InventoryItem", {"inventoryLevels": _levels, "inventoryLevel": _level})
    _attach(schema, "InventoryLevel", {"quantities": _quantities})
    return schema


def _attach(
    schema: GraphQLSchema, type_name: str, resolvers: dict[str, Callable[..., Any]]
) -> None:
    gql_type = schema.type_map[type_name]
    assert isinstance(gql_type, GraphQLObjectType)
    for name, resolve in resolvers.items():
        gql_type.fields[name].resolve = resolve


def _refunds(parent: Graph, info: Info, first: int | None = None) -> list[Graph]:
    found: list[Graph] = parent.get("refunds") or []
    return found if first is None else found[:first]


def _fulfillments(parent: Graph, info: Info, first: int | None = None) -> list[Graph]:
    found: list[Graph] = parent.get("_fulfillments") or []
    return found if first is None else found[:first]


def _levels(parent: Graph, info: Info, **args: Any) -> dict[str, Any]:
    """An inventory item's levels, one per location that stocks it, in location order."""
    levels = _data(info).retail.levels(parent["id"])
    if args.get("reverse"):
        levels = levels[::-1]
    return connection(levels, args, row_id=_level_location, node=lambda level: level)


def _level(
    parent: Graph, info: Info, locationId: str, includeInactive: bool = False
) -> Graph | None:
    levels = _data(info).retail.levels(parent["id"])
    return next((lv for lv in levels if lv["location"]["id"] == locationId), None)


def _level_location(level: Graph) -> int:
    return _numeric_id(level["location"])


def _quantities(parent: Graph, info: Info, names: list[str]) -> list[Graph]:
    return quantities(parent, names)


def _locations(_root: None, info: Info, **args: Any) -> dict[str, Any]:
    """Every active location by name (LocationSortKeys NAME) or id; the sandbox has no
    inactive or legacy ones, so those flags change nothing."""
    found = list(_data(info).retail.locations)
    if args.get("sortKey", "NAME") == "NAME":
        found.sort(key=lambda graph: (graph["name"], _numeric_id(graph)))
    if args.get("reverse"):
        found = found[::-1]
    return connection(found, args, row_id=_numeric_id, node=lambda graph: graph)


def _data(info: Info) -> ShopData:
    return info.context


def _numeric_id(graph: Graph) -> int:
    return int(str(graph["id"]).rsplit("/", 1)[1])


def _nested(key: str) -> Callable[..., Any]:
    """A connection over a list the parent object carries (variants, media, line items)."""

    def resolve(parent: Graph, info: Info, **args: Any) -> dict[str, Any]:
        items: Sequence[Graph] = parent[key]
        if args.get("reverse"):
            items = items[::-1]
        return connection(items, args, row_id=_numeric_id, node=lambda item: item)

    return resolve


def _listing(
    pick: Callable[[ShopData], Searchable[Row]], node: Callable[[Row], Graph]
) -> Callable[..., Any]:
    """A root connection: filter with the search query, sort, then page."""

    def resolve(_root: None, info: Info, **args: Any) -> dict[str, Any]:
        searchable = pick(_data(info))
        sort_key = args.get("sortKey", "ID")
        rows = searchable.select(args.get("query"), sort_key, bool(args.get("reverse")))
        return connection(
            rows,
            args,
            row_id=searchable.row_id,
            node=node,
            sort_value=searchable.sort_keys.get(sort_key),
        )

    return resolve


def _by_id(typename: str | None) -> Callable[..., Any]:
    def resolve(_root: None, info: Info, id: str) -> Graph | None:
        found = _data(info).node(id)
        if found is None or (typename and found.get("__typename") != typename):
            return None
        return found

    return resolve


def _nodes(_root: None, info: Info, ids: list[str]) -> list[Graph | None]:
    data = _data(info)
    return [data.node(node_id) for node_id in ids]


_ROOT: dict[str, Callable[..., Any]] = {
    "shop": lambda _root, info: _data(info).shop,
    "currentAppInstallation": lambda _root, info: _data(info).app_installation,
    "node": _by_id(None),
    "nodes": _nodes,
    "product": _by_id("Product"),
    "productVariant": _by_id("ProductVariant"),
    "customer": _by_id("Customer"),
    "order": _by_id("Order"),
    "products": _listing(lambda d: d.products, lambda r: r.graph),
    "productVariants": _listing(lambda d: d.variants, lambda r: r.variant),
    "customers": _listing(lambda d: d.customers, lambda r: r.graph),
    "orders": _listing(lambda d: d.orders, lambda r: r.graph),
    "orderByIdentifier": order_by_identifier,
    "location": lambda _root, info, id=None: _by_id("Location")(_root, info, id) if id else None,
    "locations": _locations,
    "inventoryItem": _by_id("InventoryItem"),
    "staffMember": lambda _root, info, id=None: (
        _by_id("StaffMember")(_root, info, id) if id else None
    ),
}
