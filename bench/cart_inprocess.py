"""`cartLinesAdd`'s gateway CPU, measured in one process: steady enough to compare two
versions of the code, and what callgrind counts instructions of (bench/README.md).

    python -m bench.cart_inprocess [--requests 1000] [--rounds 3] [--lines 50]

The app from `create_app` runs in this process, driven through ASGI without a server or
sockets (as `bench.products_inprocess` does), against a real mongod; the sandbox's
upstream answers are recorded on first sight and replayed after. One customer's cart is
first filled with `--lines` SKUs (as `bench.cart_load`'s carts are after a few seconds),
then every measured request adds one unit of one of them, in turn. What is timed is the
gateway's own work per mutation: the HTTP view, auth, execution, the cart service, its
MongoDB round trips (the driver's side of them) and the price and stock reads. Not timed:
uvicorn, sockets to the vendors, and mongod itself (another process).
"""

from __future__ import annotations

import argparse
import time

import httpx
import orjson
import uvloop

from bench.products_inprocess import RecordThenReplay, asgi_post, inprocess_stack
from gateway.app import create_app
from gateway.asgi import tune_garbage_collector
from gateway.http_transport import UpstreamClient
from gateway.settings import HttpSettings, Settings
from gateway.wiring.build import upstream_transport
from sandbox.dataset import WAREHOUSE_LOCATION_ID, build_dataset

CREATE = b'{"query": "mutation { cartCreate { cart { id } } }"}'
ADD = """mutation ($cartId: ID!, $sku: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{sku: $sku, quantity: 1}]) {
    cart { version } userErrors { code }
  }
}"""


def _customer_token(identity_url: str, contact_id: str) -> str:
    response = httpx.post(
        identity_url + "/dev/token", json={"kind": "customer", "subject": contact_id}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def measure(
    settings: Settings, token: str, skus: list[str], requests: int, rounds: int
) -> list[float]:
    transport = RecordThenReplay(upstream_transport(HttpSettings().transport))
    client = UpstreamClient(transport=transport, timeout=httpx.Timeout(5.0))
    app = create_app(settings, http_client=client)
    headers = [(b"authorization", f"Bearer {token}".encode())]
    async with app.router.lifespan_context(app):
        created = orjson.loads(await asgi_post(app, CREATE, headers)())
        cart_id = created["data"]["cartCreate"]["cart"]["id"]
        adds = [
            asgi_post(
                app,
                orjson.dumps({"query": ADD, "variables": {"cartId": cart_id, "sku": sku}}),
                headers,
            )
            for sku in skus
        ]
        for add in adds:  # fills the cart and the caches; records the answers
            answer = orjson.loads(await add())
            if "errors" in answer or answer["data"]["cartLinesAdd"]["userErrors"]:
                raise SystemExit(f"the add failed: {answer}")
        transport.replaying = True
        for index in range(50):
            await adds[index % len(adds)]()
        tune_garbage_collector()  # as `omnigate serve` does once the app is built
        figures = []
        for _ in range(rounds):
            started = time.process_time()
            for index in range(requests):
                await adds[index % len(adds)]()
            figures.append((time.process_time() - started) * 1000 / requests)
        answer = orjson.loads(await adds[0]())
        if "errors" in answer or answer["data"]["cartLinesAdd"]["userErrors"]:
            raise SystemExit(f"an add failed while measured: {answer}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=50, help="lines in the cart")
    args = parser.parse_args()
    dataset = build_dataset()
    skus = [
        p.sku
        for p in dataset.products
        if dataset.inventory.get((p.square_variation_id, WAREHOUSE_LOCATION_ID), 0) >= 300
    ][: args.lines]
    with inprocess_stack() as (settings, sandbox):
        token = _customer_token(sandbox.urls["identity"], dataset.crm_contacts[0].id)
        figures = uvloop.run(measure(settings, token, skus, args.requests, args.rounds))
    rounds = " ".join(f"{figure:.3f}" for figure in figures)
    print(f"{'gateway_cpu_ms_per_mutation':<30} {min(figures):.3f} (rounds: {rounds})")
    print(f"{'lines in the cart':<30} {len(skus)}")


if __name__ == "__main__":
    main()
