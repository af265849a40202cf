"""Cart mutations under concurrent devices: mutations/s, latency, gateway CPU per mutation.

    python -m bench.cart_load [--seconds 20] [--customers 50] [--devices 2] [--hot]
    python -m bench.cart_load --checkout [--seconds 20] [--customers 50] [--devices 2]

Each customer has `--devices` devices signed in with the customer's token (from the sandbox
identity provider); every device loops `cartLinesAdd` of one unit of a well-stocked SKU on
the customer's one cart, without expectedVersion, as fast as the gateway answers. `--hot`
puts every device on one customer's cart (the worst case: all writes on one document).
At the end each cart's quantities are checked against the adds that succeeded: a lost
update would show as a mismatch.

`--checkout` measures `checkout` instead, with customers x devices shoppers, each its own
customer: in rounds, every shopper makes its open cart with two lines (`cartCreate(lines:)`,
not measured), then all of them check out at once on WEB, paid with the Sandbox's good
card and a new idempotency key; the gateway's CPU is sampled around each round's checkouts
only, so the figure is CPU per checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.stack import cpu_seconds, running_stack
from sandbox.dataset import WAREHOUSE_LOCATION_ID, build_dataset

CREATE = "mutation { cartCreate { cart { id } } }"
ADD = """mutation ($cartId: ID!, $sku: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{sku: $sku, quantity: 1}]) {
    cart { version } userErrors { code }
  }
}"""
CART = "query { cart { lines { sku quantity } } }"
FILLED_CART = """mutation ($first: ID!, $second: ID!) {
  cartCreate(lines: [{sku: $first, quantity: 1}, {sku: $second, quantity: 1}]) {
    cart { id } userErrors { code }
  }
}"""
# paid with the Square Sandbox's test card token, as a payment form would (docs/payments.md)
CHECKOUT = """mutation ($cartId: ID!, $key: String!) {
  checkout(
    cartId: $cartId, channel: WEB, idempotencyKey: $key, paymentToken: "cnon:card-nonce-ok"
  ) {
    order { id } cart { status } userErrors { code }
  }
}"""


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def _token(client: httpx.AsyncClient, issuer: str, contact_id: str) -> str:
    response = await client.post(
        issuer + "/dev/token", json={"kind": "customer", "subject": contact_id}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def well_stocked_skus() -> list[str]:
    """50 well-stocked SKUs (half the default line limit): a run adds a few thousand units,
    and a line past its stock or the line limit is refused (a cheap read, no write), which
    would flatter the figures."""
    dataset = build_dataset()
    return [
        p.sku
        for p in dataset.products
        if dataset.inventory.get((p.square_variation_id, WAREHOUSE_LOCATION_ID), 0) >= 300
    ][:50]


async def load(
    gateway_url: str, issuer: str, seconds: float, customers: int, devices: int, hot: bool
) -> dict[str, object]:
    dataset = build_dataset()
    skus = well_stocked_skus()
    contacts = [c.id for c in dataset.crm_contacts[: 1 if hot else customers]]
    limits = httpx.Limits(max_connections=customers * devices)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=120, limits=limits) as client:
        tokens = [await _token(client, issuer, contact) for contact in contacts]
        headers = [{"authorization": f"Bearer {token}"} for token in tokens]
        carts = []
        for header in headers:
            created = await client.post("/graphql", json={"query": CREATE}, headers=header)
            carts.append(created.json()["data"]["cartCreate"]["cart"]["id"])
        latencies: list[float] = []
        added: dict[tuple[int, str], int] = {}
        refused = 0
        refusals: Counter[str] = Counter()
        stop = time.monotonic() + seconds

        async def device(owner: int, rng: random.Random) -> None:
            nonlocal refused
            while time.monotonic() < stop:
                sku = rng.choice(skus)
                started = time.perf_counter()
                response = await client.post(
                    "/graphql",
                    json={"query": ADD, "variables": {"cartId": carts[owner], "sku": sku}},
                    headers=headers[owner],
                )
                latencies.append(time.perf_counter() - started)
                body = response.json()
                payload = (body.get("data") or {}).get("cartLinesAdd")
                if payload is None or payload["userErrors"]:
                    refused += 1
                    errors = (payload or {}).get("userErrors") or body.get("errors") or [{}]
                    first = errors[0]
                    refusals[str(first.get("code") or first.get("extensions", {}).get("code"))] += 1
                    continue
                added[(owner, sku)] = added.get((owner, sku), 0) + 1

        owners = [i % len(carts) for i in range(customers * devices)]
        await asyncio.gather(*(device(o, random.Random(i)) for i, o in enumerate(owners)))
        lost = 0
        for owner, header in enumerate(headers):
            lines = (await client.post("/graphql", json={"query": CART}, headers=header)).json()
            have = {x["sku"]: x["quantity"] for x in lines["data"]["cart"]["lines"]}
            for (who, sku), count in added.items():
                if who == owner and have.get(sku, 0) != count:
                    lost += abs(count - have.get(sku, 0))
    latencies.sort()
    return {
        "mutations": len(latencies),
        "refused_or_failed": refused,
        "refusals_by_code": dict(refusals),
        "lost_updates": lost,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


async def checkouts(
    gateway_url: str, issuer: str, seconds: float, shoppers: int, cpu: Callable[[], float]
) -> dict[str, object]:
    """Rounds of: every shopper fills its open cart (not measured), then all check out at
    once (measured: latency, and the gateway's CPU over the round's checkouts)."""
    dataset = build_dataset()
    skus = well_stocked_skus()
    contacts = [c.id for c in dataset.crm_contacts[:shoppers]]
    limits = httpx.Limits(max_connections=shoppers)
    latencies: list[float] = []
    refusals: Counter[str] = Counter()
    checkout_cpu = 0.0
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60, limits=limits) as client:
        headers = [
            {"authorization": f"Bearer {await _token(client, issuer, contact)}"}
            for contact in contacts
        ]

        async def fill(header: dict[str, str]) -> str:
            first, second = rng.sample(skus, 2)
            variables = {"first": first, "second": second}
            created = await client.post(
                "/graphql", json={"query": FILLED_CART, "variables": variables}, headers=header
            )
            payload = created.json()["data"]["cartCreate"]
            if payload["userErrors"]:
                raise SystemExit(f"a cart could not be filled: {payload}")
            return str(payload["cart"]["id"])

        async def check_out(header: dict[str, str], cart_id: str, key: str) -> None:
            started = time.perf_counter()
            response = await client.post(
                "/graphql",
                json={"query": CHECKOUT, "variables": {"cartId": cart_id, "key": key}},
                headers=header,
            )
            latencies.append(time.perf_counter() - started)
            body = response.json()
            payload = (body.get("data") or {}).get("checkout")
            if payload is None or payload["userErrors"] or payload["order"] is None:
                errors = (payload or {}).get("userErrors") or body.get("errors") or [{}]
                first = errors[0]
                refusals[str(first.get("code") or first.get("extensions", {}).get("code"))] += 1

        stop = time.monotonic() + seconds
        round_number = 0
        while time.monotonic() < stop:
            carts = await asyncio.gather(*(fill(header) for header in headers))
            round_number += 1
            before = cpu()
            await asyncio.gather(
                *(
                    check_out(header, cart_id, f"bench-{round_number}-{index}")
                    for index, (header, cart_id) in enumerate(zip(headers, carts, strict=True))
                )
            )
            checkout_cpu += cpu() - before
    latencies.sort()
    return {
        "rounds": round_number,
        "mutations": len(latencies),
        "refused_or_failed": sum(refusals.values()),
        "refusals_by_code": dict(refusals),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "checkout_cpu_seconds": checkout_cpu,
    }


def print_figures(figures: dict[str, object]) -> None:
    for key, value in figures.items():
        print(f"{key:<30} {value}")


def checkout_main(shoppers: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), scale=1.0) as stack:
        figures = asyncio.run(
            checkouts(
                stack.gateway_url,
                stack.identity_url,
                seconds,
                shoppers,
                lambda: cpu_seconds(stack.gateway_pid),
            )
        )
    cpu_ms = float(figures.pop("checkout_cpu_seconds")) * 1000  # type: ignore[arg-type]
    checked_out = int(figures["mutations"])  # type: ignore[call-overload]
    print_figures(
        {
            "devices": shoppers,
            **figures,
            "gateway_cpu_ms_per_checkout": round(cpu_ms / max(checked_out, 1), 2),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--devices", type=int, default=2, help="devices per customer")
    parser.add_argument("--hot", action="store_true", help="every device on one cart")
    parser.add_argument(
        "--checkout", action="store_true", help="measure checkout, one customer per device"
    )
    args = parser.parse_args()
    if args.checkout:
        checkout_main(args.customers * args.devices, args.seconds)
        return
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), scale=1.0) as stack:
        cpu_before = cpu_seconds(stack.gateway_pid)
        started = time.monotonic()
        figures = asyncio.run(
            load(
                stack.gateway_url,
                stack.identity_url,
                args.seconds,
                args.customers,
                args.devices,
                args.hot,
            )
        )
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(stack.gateway_pid) - cpu_before
    mutations = int(figures["mutations"])  # type: ignore[call-overload]
    print_figures(
        {
            "devices": args.customers * args.devices,
            "carts": 1 if args.hot else args.customers,
            **figures,
            "mutations_per_second": round(mutations / args.seconds, 1),
            "gateway_cpu_ms_per_mutation": round(cpu * 1000 / max(mutations, 1), 2),
            "wall_seconds": round(elapsed, 1),
        }
    )


if __name__ == "__main__":
    main()
