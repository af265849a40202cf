"""Products: catalog and price from the e-commerce system, stock from inventory."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from commerce.availability import RankedStore, rank_stock
from commerce.catalog import search_products
from commerce.holds.model import SkuHolds, net_levels
from commerce.orders import InvalidCursor
from connectors.records import LocationRecord, ProductRecord, StockLevel
from engine.context import Context, Info
from engine.errors import BadUserInput
from engine.field_hints import prefetched, pure
from engine.selections import selects
from resolvers.common import ExternalRef, Money, PageInfo, check_first
from resolvers.stores import Store, store_from_record


@strawberry.type
class OnlineStock:
    quantity: int

    @strawberry.field(metadata=pure())
    def in_stock(self) -> bool:
        return self.quantity > 0


@strawberry.type
class StoreStock:
    store: Store
    quantity: int


@strawberry.type(description="Where the product can be had now.")
class Availability:
    online: OnlineStock
    # ranked by commerce.availability.rank_stock; StoreStock rows are made only for the
    # stores asked for
    ranked_stores: strawberry.Private[list[RankedStore[Store]]]

    @strawberry.field(
        description="Stores that range the product, most stock first.", metadata=pure()
    )
    def stores(self, first: int = 10, in_stock_only: bool = False) -> list[StoreStock]:
        check_first(first)
        ranked = (
            [row for row in self.ranked_stores if row[0] < 0]
            if in_stock_only
            else self.ranked_stores
        )
        return [StoreStock(store=row[3], quantity=-row[0]) for row in ranked[:first]]


@strawberry.type
class ProductImage:
    url: str


@strawberry.federation.type(keys=["sku"])
class Product:
    sku: strawberry.ID
    name: str
    description: str
    category: str | None

    @strawberry.field(metadata=pure())
    def images(self) -> list[ProductImage]:
        return [ProductImage(url=url) for url in self.record.image_urls]

    @strawberry.field(description="The one price every channel shows.", metadata=pure())
    def price(self) -> Money:
        return Money.from_record(self.record.price)

    @strawberry.field(metadata=pure())
    def external_refs(self) -> list[ExternalRef]:
        return [ExternalRef.from_record(ref) for ref in self.record.external_refs]

    # what images, price and references are made from, when they are asked for
    record: strawberry.Private[ProductRecord]
    # Set by `products` for its whole page at once: the availability, or the error every
    # product's availability answers with. Neither set: the field loads its own.
    prefetched_availability: strawberry.Private[Availability | None] = None
    availability_error: strawberry.Private[Exception | None] = None

    @classmethod
    def from_record(cls, record: ProductRecord) -> Product:
        return cls(
            sku=strawberry.ID(record.sku),
            name=record.name,
            description=record.description,
            category=record.category,
            record=record,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, sku: strawberry.ID) -> Product | None:
        record = await info.context.loaders.product_by_sku.load(sku)
        return cls.from_record(record) if record else None

    @strawberry.field(
        description="Stock online and per store; null if inventory is unreachable.",
        metadata=prefetched("prefetched_availability"),
    )
    async def availability(self, info: Info) -> Availability | None:
        if self.prefetched_availability is not None:
            return self.prefetched_availability
        if self.availability_error is not None:
            raise self.availability_error
        levels = await info.context.loaders.stock_by_sku.load(self.sku)
        holds = await info.context.loaders.held_by_sku.load(self.sku)
        return _availability(await info.context.services.stores.all(), levels, holds)


def _availability(
    locations: dict[str, LocationRecord], levels: list[StockLevel], holds: SkuHolds
) -> Availability:
    """Net of pickup holds: a unit a cart holds for collection is no longer on offer."""
    online, ranked = rank_stock(_stores_by_location(locations), net_levels(levels, holds))
    return Availability(online=OnlineStock(quantity=online), ranked_stores=ranked)


# The store directory's locations as availability reads them (id -> the Store, None for a
# warehouse), made once for the dict the directory hands out until its next refresh.
_location_view: list[tuple[dict[str, LocationRecord], dict[str, Store | None]]] = []


def _stores_by_location(locations: dict[str, LocationRecord]) -> dict[str, Store | None]:
    for seen, stores in _location_view:
        if seen is locations:
            return stores
    stores = {
        location_id: None if location.is_warehouse else store_from_record(location)
        for location_id, location in locations.items()
    }
    _location_view[:] = [(locations, stores)]
    return stores


async def _prefetch_availability(context: Context, products: Sequence[Product]) -> None:
    """Every product's availability from one loader call, as the field would answer it,
    so the page's `availability` fields need no resolver call and no await each."""
    if not products:
        return
    try:
        skus = [p.sku for p in products]
        levels = await context.loaders.stock_by_sku.load_page(skus)
        holds = await context.loaders.held_by_sku.load_page(skus)
        locations = await context.services.stores.all()
    except Exception as error:  # every availability answers null with it, at its own path
        for product in products:
            product.availability_error = error
        return
    for product, product_levels, product_holds in zip(products, levels, holds, strict=True):
        try:
            product.prefetched_availability = _availability(
                locations, product_levels, product_holds
            )
        except Exception as error:  # the field reports it at its path
            product.availability_error = error


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo

    @strawberry.field(metadata=pure())
    def nodes(self) -> list[Product]:
        return [edge.node for edge in self.edges]


@strawberry.type
class ProductQueries:
    @strawberry.field(description="A product by SKU; null when no product has it.")
    async def product(self, info: Info, sku: strawberry.ID) -> Product | None:
        return await Product.resolve_reference(info, sku)

    @strawberry.field(description="Catalog search in the e-commerce system's own order.")
    async def products(
        self, info: Info, query: str | None = None, first: int = 20, after: str | None = None
    ) -> ProductConnection:
        check_first(first, info.context.services.settings.max_page_size)
        try:
            page = await search_products(info.context.services.ecommerce, query, first, after)
        except InvalidCursor as exc:
            raise BadUserInput("`after` is not a cursor this API gave out.", field="after") from exc
        # later `product(sku:)` reads in this request need no call
        info.context.loaders.prime_products([e.node for e in page.edges])
        edges = [
            ProductEdge(cursor=edge.cursor, node=Product.from_record(edge.node))
            for edge in page.edges
        ]
        if selects(info, "edges", "node", "availability") or selects(info, "nodes", "availability"):
            await _prefetch_availability(info.context, [edge.node for edge in edges])
        return ProductConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
