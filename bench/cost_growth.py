"""Cost as the work grows: gateway CPU per item for product pages of 20, 100 and 250
products and for carts of 1, 10 and 100 lines, measured in one process.

    python -m bench.cost_growth [--items 10000] [--rounds 3]
                                [--json bench/cost_growth.json] [--chart bench/cost_growth.png]

As `bench.products_inprocess` does, the app runs in this process, driven through ASGI, against
a real mongod, with the sandbox's upstream answers recorded on first sight and replayed
after; what is timed is the gateway's own CPU (user+system time of this process). Each size
runs `--items` items per round (so 500 pages of 20 products, 40 of 250), and the smallest
round is kept.

- products: the README's product query (price, online stock, five stores' stock) for
  `products(first: N)`; 250 is Shopify's page cap, so the page size and cost limits are
  raised to let it through.
- cart read: `cart` with every line's prices, stock and the totals (the cart page), for a
  guest cart holding N lines.
- cart add: `cartLinesAdd` of one unit to a cart holding N lines, the write a device sends
  (per mutation, not per line: it should hardly grow with the cart).

Prints a table (CPU per request and per item) and writes the figures as JSON and a chart.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import orjson
import uvloop
from matplotlib.figure import Figure

from bench.products_inprocess import (
    RecordThenReplay,
    asgi_post,
    cpu_ms_per_request,
    inprocess_stack,
)
from gateway.app import create_app
from gateway.asgi import tune_garbage_collector
from gateway.http_transport import UpstreamClient
from gateway.settings import HttpSettings, Settings
from gateway.wiring.build import upstream_transport
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Product, build_dataset

PRODUCT_SIZES = (20, 100, 250)
CART_SIZES = (1, 10, 100)
ADDS_PER_ROUND = 80
PRODUCTS = """query ($first: Int!) {
  products(first: $first) {
    edges { node {
      sku name price { amount currency }
      availability { online { quantity } stores(first: 5) { store { id name } quantity } }
    } }
  }
}"""
CART_CREATE = """mutation ($lines: [CartLineInput!]) {
  cartCreate(lines: $lines) { cartToken cart { id } userErrors { code message } }
}"""
CART_READ = """query ($id: ID) { cart(id: $id) {
  id version totalQuantity
  lines {
    id sku quantity unitPrice { amount currency } total { amount currency }
    availableQuantity outOfStock
  }
  cost { subtotal { amount currency } total { amount currency } }
} }"""
CART_ADD = """mutation ($cartId: ID!, $sku: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{sku: $sku, quantity: 1}]) {
    cart { version } userErrors { code }
  }
}"""
Post = Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Cost:
    path: str  # products, cart read, cart add
    size: int  # products on the page, lines in the cart
    cpu_ms_per_request: float
    # per product or line; for an add, per mutation (one line whatever the cart holds)
    cpu_us_per_item: float


def _checked(body: bytes) -> dict[str, object]:
    answer: dict[str, object] = orjson.loads(body)
    if "errors" in answer:
        raise SystemExit(f"the request failed: {answer['errors']}")
    return answer


async def _timed(post: Post, requests: int, rounds: int) -> float:
    """The smallest round's CPU milliseconds per request."""
    for _ in range(20):
        await post()
    figures = await cpu_ms_per_request(post, requests, rounds)
    _checked(await post())
    return min(figures)


async def measure(
    settings: Settings, skus: list[str], items: int, rounds: int, only: str | None = None
) -> list[Cost]:
    transport = RecordThenReplay(upstream_transport(HttpSettings().transport))
    client = UpstreamClient(transport=transport, timeout=httpx.Timeout(5.0))
    app = create_app(settings, http_client=client)
    found: list[Cost] = []

    def post(query: str, variables: dict[str, object], token: str | None = None) -> Post:
        headers = [(b"x-cart-token", token.encode())] if token else []
        body = orjson.dumps({"query": query, "variables": variables})
        return asgi_post(app, body, headers)

    async def run(
        path: str, size: int, request: Post, items_per_request: int, requests: int
    ) -> None:
        if only is not None and path != only:
            return
        for _ in range(3):  # records the answers, fills the caches
            _checked(await request())
        transport.replaying = True
        cpu_ms = await _timed(request, requests, rounds)
        transport.replaying = False
        per_item = cpu_ms * 1000 / items_per_request
        found.append(Cost(path, size, round(cpu_ms, 3), round(per_item, 1)))
        print(f"{path:<10} {size:>4}  {cpu_ms:8.3f} ms/request  {per_item:8.1f} µs/item")

    async with app.router.lifespan_context(app):
        tune_garbage_collector()  # as `omnigate serve` does once the app is built
        for size in PRODUCT_SIZES:
            request = post(PRODUCTS, {"first": size})
            await run("products", size, request, size, max(items // size, 20))
        for size in CART_SIZES:
            lines = [{"sku": sku, "quantity": 1} for sku in skus[:size]]
            created = _checked(await post(CART_CREATE, {"lines": lines})())
            payload = created["data"]["cartCreate"]  # type: ignore[index]
            if payload["userErrors"]:
                raise SystemExit(f"the cart was not created: {payload['userErrors']}")
            token, cart_id = payload["cartToken"], payload["cart"]["id"]
            read = post(CART_READ, {"id": cart_id}, token)
            await run("cart read", size, read, size, max(items // size, 20))
            # every add raises the first line by one, within its SKU's stock (main checks)
            add = post(CART_ADD, {"cartId": cart_id, "sku": skus[0]}, token)
            await run("cart add", size, add, 1, ADDS_PER_ROUND)
        if transport.replayed == 0:
            raise SystemExit("nothing was replayed: the figures include real calls")
    return found


def write_chart(figures: list[Cost], path: Path) -> None:
    chart = Figure(figsize=(10, 4), layout="constrained")
    products, cart = chart.subplots(1, 2)
    for axes, paths, unit in (
        (products, ("products",), "products on the page"),
        (cart, ("cart read", "cart add"), "lines in the cart"),
    ):
        for name in paths:
            rows = [f for f in figures if f.path == name]
            each = "mutation" if name == "cart add" else "item"
            axes.plot(
                [f.size for f in rows],
                [f.cpu_us_per_item for f in rows],
                marker="o",
                label=f"{name} (µs per {each})",
            )
        sizes = sorted({f.size for f in figures if f.path in paths})
        axes.set_xscale("log")
        axes.set_xticks(sizes, [str(size) for size in sizes])
        axes.minorticks_off()
        axes.set_xlabel(unit)
        axes.set_ylabel("gateway CPU (µs)")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    products.set_title("product page: CPU per product", fontsize=10)
    cart.set_title("cart: CPU per line read, and per add", fontsize=10)
    chart.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items per round and size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--chart", type=Path, help="write the chart (PNG) here")
    parser.add_argument(
        "--only", choices=("products", "cart read", "cart add"), help="one path (to profile it)"
    )
    args = parser.parse_args()
    dataset = build_dataset()

    def online(product: Product) -> int:
        return dataset.inventory.get((product.square_variation_id, WAREHOUSE_LOCATION_ID), 0)

    # the best-stocked SKUs, most first: the adds raise the first one
    stocked = sorted(dataset.products, key=online, reverse=True)
    skus = [p.sku for p in stocked[: max(CART_SIZES)]]
    if args.rounds * ADDS_PER_ROUND + 30 > online(stocked[0]):
        raise SystemExit("too many rounds: the first SKU would run out of stock")
    with inprocess_stack() as (settings, _sandbox):
        # a page of 250 products with five stores each costs ~19k (docs/security.md)
        limits = settings.limits.model_copy(update={"max_cost": 25_000})
        settings = settings.model_copy(
            update={"max_page_size": max(PRODUCT_SIZES), "limits": limits}
        )
        figures = uvloop.run(measure(settings, skus, args.items, args.rounds, args.only))
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    if args.chart:
        write_chart(figures, args.chart)


if __name__ == "__main__":
    main()
