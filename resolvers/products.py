"""Products: catalog and price from the e-commerce system, stock from inventory."""

from __future__ import annotations

import strawberry

from connectors.records import LocationRecord, ProductRecord, StockLevel
from gateway.context import Info
from gateway.errors import BadUserInput
from gateway.services.catalog import search_products
from gateway.services.orders import InvalidCursor
from resolvers.common import ExternalRef, Money, PageInfo, check_first
from resolvers.stores import Store, store_from_record


@strawberry.type
class OnlineStock:
    quantity: int

    @strawberry.field
    def in_stock(self) -> bool:
        return self.quantity > 0


@strawberry.type
class StoreStock:
    store: Store
    quantity: int


@strawberry.type(description="Where the product can be had now.")
class Availability:
    online: OnlineStock
    all_stores: strawberry.Private[list[StoreStock]]

    @strawberry.field(description="Stores that range the product, most stock first.")
    def stores(self, first: int = 10, in_stock_only: bool = False) -> list[StoreStock]:
        check_first(first)
        stocks = (
            [s for s in self.all_stores if s.quantity > 0] if in_stock_only else self.all_stores
        )
        return stocks[:first]


@strawberry.type
class ProductImage:
    url: str


@strawberry.federation.type(keys=["sku"])
class Product:
    sku: strawberry.ID
    name: str
    description: str
    category: str | None
    images: list[ProductImage]
    price: Money = strawberry.field(description="The one price every channel shows.")
    external_refs: list[ExternalRef]

    @classmethod
    def from_record(cls, record: ProductRecord) -> Product:
        return cls(
            sku=strawberry.ID(record.sku),
            name=record.name,
            description=record.description,
            category=record.category,
            images=[ProductImage(url=url) for url in record.image_urls],
            price=Money.from_record(record.price),
            external_refs=[ExternalRef.from_record(ref) for ref in record.external_refs],
        )

    @classmethod
    async def resolve_reference(cls, info: Info, sku: strawberry.ID) -> Product | None:
        record = await info.context.loaders.product_by_sku.load(sku)
        return cls.from_record(record) if record else None

    @strawberry.field(description="Stock online and per store; null if inventory is unreachable.")
    async def availability(self, info: Info) -> Availability | None:
        levels = await info.context.loaders.stock_by_sku.load(self.sku)
        return _availability(await info.context.services.stores.all(), levels)


def _availability(locations: dict[str, LocationRecord], levels: list[StockLevel]) -> Availability:
    online = 0
    stores: list[StoreStock] = []
    for level in levels:
        location = locations.get(level.location_id)
        if location is None:
            continue
        if location.is_warehouse:
            online += max(level.quantity, 0)
        else:
            stores.append(
                StoreStock(store=store_from_record(location), quantity=max(level.quantity, 0))
            )
    stores.sort(key=lambda stock: (-stock.quantity, stock.store.name))
    return Availability(online=OnlineStock(quantity=online), all_stores=stores)


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo

    @strawberry.field
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
        check_first(first)
        try:
            page = await search_products(info.context.services.ecommerce, query, first, after)
        except InvalidCursor as exc:
            raise BadUserInput("`after` is not a cursor this API gave out.", field="after") from exc
        loader = info.context.loaders.product_by_sku
        edges = []
        for edge in page.edges:
            loader.prime(edge.node.sku, edge.node)  # later `product(sku:)` reads need no call
            edges.append(ProductEdge(cursor=edge.cursor, node=Product.from_record(edge.node)))
        return ProductConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
