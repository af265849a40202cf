"""Catalog API: SearchCatalogObjects and BatchRetrieveCatalogObjects over the product catalog.

Each product is one ITEM with one ITEM_VARIATION; the variation carries the `sku` and the POS
price (`Product.pos_price`). Searchable attributes follow Square's CatalogQuery reference:
`sku` on variations, `name` on items and variations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from sandbox.dataset import Product
from sandbox.square import shapes
from sandbox.square.body import advisory_limit, field, id_list
from sandbox.square.envelope import invalid_request
from sandbox.square.paging import paginate
from sandbox.square.world import SquareWorld

# CatalogQuerySet: "A maximum of 250 values may be searched in a request."
SET_QUERY_MAX_VALUES = 250
# RetrieveCatalogInfo limits: search_max_page_limit and batch_retrieve_max_object_ids.
SEARCH_MAX_PAGE_LIMIT = 1000
SEARCH_DEFAULT_LIMIT = 100
BATCH_RETRIEVE_MAX_OBJECT_IDS = 1000
_TYPES = ("ITEM", "ITEM_VARIATION")

# (object type, attribute) -> the attribute's value on a product
_ATTRIBUTES: dict[tuple[str, str], Callable[[Product], str]] = {
    ("ITEM_VARIATION", "sku"): lambda p: p.sku,
    ("ITEM_VARIATION", "name"): lambda p: "Regular",
    ("ITEM", "name"): lambda p: p.title,
}
Match = Callable[[str, Product], bool]


async def search_catalog_objects(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    types = field(body, "object_types") or list(_TYPES)
    match = _query_matcher(field(body, "query") or {})
    hits = [
        (kind, product)
        for product in world.dataset.products
        for kind in _TYPES
        if kind in types and match(kind, product)
    ]
    limit = advisory_limit(body, default=SEARCH_DEFAULT_LIMIT, maximum=SEARCH_MAX_PAGE_LIMIT)
    page = paginate(hits, body, limit)
    payload: dict[str, Any] = {
        "objects": [_render(kind, product) for kind, product in page.items],
        "latest_time": shapes.rfc3339(max(p.updated_at for p in world.dataset.products)),
    }
    if body.get("include_related_objects"):
        payload["related_objects"] = _parents(page.items)
    if page.cursor:
        payload["cursor"] = page.cursor
    return payload


async def batch_retrieve_catalog_objects(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    ids = id_list(body, "object_ids", max_length=BATCH_RETRIEVE_MAX_OBJECT_IDS, required=True)
    found: list[tuple[str, Product]] = []
    for object_id in ids or []:
        if object_id in world.products_by_variation:
            found.append(("ITEM_VARIATION", world.products_by_variation[object_id]))
        elif object_id in world.products_by_item:
            found.append(("ITEM", world.products_by_item[object_id]))
    payload: dict[str, Any] = {"objects": [_render(kind, product) for kind, product in found]}
    if body.get("include_related_objects"):
        payload["related_objects"] = _parents(found)
    return payload


def _render(kind: str, product: Product) -> dict[str, Any]:
    return shapes.variation(product) if kind == "ITEM_VARIATION" else shapes.item(product)


def _parents(found: list[tuple[str, Product]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for kind, product in found:
        if kind == "ITEM_VARIATION":
            seen.setdefault(product.square_item_id, shapes.item(product))
    return list(seen.values())


def _query_matcher(query: dict[str, Any]) -> Match:
    """AND of the query's filters; set_query may not be combined with any other filter."""
    if "set_query" in query and len(query) > 1:
        raise invalid_request(
            "BAD_REQUEST", "set_query cannot be combined with other query types.", "query"
        )
    matchers: list[Match] = []
    for name, spec in query.items():
        if not isinstance(spec, dict):
            raise invalid_request("EXPECTED_OBJECT", f"`{name}` must be an object.", name)
        matchers.append(_attribute_filter(name, spec, _value_test(name, spec)))
    return lambda kind, product: all(match(kind, product) for match in matchers)


def _value_test(name: str, spec: dict[str, Any]) -> Callable[[str], bool]:
    """How one query type compares a (lower-cased) attribute value; Square matches case-blind."""
    if name == "exact_query":
        wanted = str(spec.get("attribute_value", "")).lower()
        return lambda value: value == wanted
    if name == "set_query":
        values = id_list({name: spec}, name, "attribute_values", max_length=SET_QUERY_MAX_VALUES)
        wanted_set = {value.lower() for value in values or []}
        return lambda value: value in wanted_set
    if name == "prefix_query":
        prefix = str(spec.get("attribute_prefix", "")).lower()
        return lambda value: value.startswith(prefix)
    raise invalid_request("NOT_IMPLEMENTED", f"`{name}` is not supported by this simulator.", name)


def _attribute_filter(name: str, spec: dict[str, Any], accept: Callable[[str], bool]) -> Match:
    attribute = spec.get("attribute_name")
    if not any(attr == attribute for _, attr in _ATTRIBUTES):
        raise invalid_request(
            "INVALID_VALUE",
            f'Unknown attribute definition name "{attribute}".',
            f"{name}.attribute_name",
        )

    def match(kind: str, product: Product) -> bool:
        read = _ATTRIBUTES.get((kind, str(attribute)))
        return read is not None and accept(read(product).lower())

    return match
