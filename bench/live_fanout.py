"""Live stock fan-out: subscribers one gateway worker holds, messages per second, latency
from the vendor's webhook to the subscriber, and memory per subscriber.

    python -m bench.live_fanout [--subscribers 1000] [--skus 20] [--changes 200]

Set-up: a real mongod; the simulators in their own process, Square subscribed (through its
CreateWebhookSubscription) to send `inventory.count.updated` to the gateway; the gateway as
`omnigate serve` (one worker) in its own process; the subscribers in this process, each a
graphql-transport-ws connection following `stockChanged` of `--skus` SKUs at one store
(spread over 200 SKUs, so each change concerns a tenth of them at the defaults).

1. Hold: the subscribers connect and take their first message; the gateway's resident
   memory before and after, divided by their number, is the memory per subscriber.
2. Latency: `--changes` single stock changes, one at a time, each a new quantity made in
   the Square simulator through its control endpoint (which delivers the signed webhook
   before it answers); latency is from just before that call to each subscriber's message
   carrying the new quantity (p50, p99 over every subscriber that follows the SKU).
3. Throughput: a burst of changes delivered 25 at a time for `--burst-seconds`; messages
   received per second by all subscribers (coalesced: each holds the latest quantities).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import websockets

from bench.stack import _wait_until, running_sandbox
from gateway.local_mongod import LocalMongod, free_port, stop_process

STOCK_CHANGED = """subscription ($storeId: ID, $skus: [ID!]) {
  stockChanged(storeId: $storeId, skus: $skus) { levels { sku quantity } }
}"""
SQUARE_TOKEN = "sandbox-square-token"
WARM_UP = 5


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Subscribers:
    """Every subscriber's connection, and when each SKU's quantity reached each of them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.all_ready = asyncio.Event()
        self.messages = 0
        # (sku, quantity) -> receive times
        self.arrivals: defaultdict[tuple[str, int], list[float]] = defaultdict(list)
        self.ready = 0

    async def follow(self, url: str, store: str, skus: list[str], stop: asyncio.Event) -> None:
        async with websockets.connect(
            url, subprotocols=["graphql-transport-ws"], ping_interval=None, max_size=None
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            await socket.recv()
            request = {"query": STOCK_CHANGED, "variables": {"storeId": store, "skus": skus}}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": request}))
            await socket.recv()  # the current quantities
            self.ready += 1
            if self.ready == self.count:
                self.all_ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(socket.recv(), 0.5)
                except TimeoutError:
                    continue
                now = time.monotonic()
                self.messages += 1
                message = json.loads(raw)
                for level in message["payload"]["data"]["stockChanged"]["levels"]:
                    self.arrivals[(level["sku"], level["quantity"])].append(now)


async def measure(args: argparse.Namespace, square: str, gateway: str, pid: int) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        stores = await http.post(f"{gateway}/graphql", json={"query": "{ stores { id } }"})
        store = stores.json()["data"]["stores"][0]["id"]
        pool: list[str] = []
        after = None
        while len(pool) < 200:
            page = await http.post(
                f"{gateway}/graphql",
                json={
                    "query": "query ($a: String) { products(first: 100, after: $a) "
                    "{ nodes { sku } pageInfo { endCursor } } }",
                    "variables": {"a": after},
                },
            )
            found = page.json()["data"]["products"]
            pool += [node["sku"] for node in found["nodes"]]
            after = found["pageInfo"]["endCursor"]
        ws_url = gateway.replace("http://", "ws://") + "/graphql"
        subscribers = Subscribers(args.subscribers)
        stop = asyncio.Event()
        before = rss_kib(pid)
        tasks = []
        for i in range(args.subscribers):
            skus = [pool[(i * 7 + k * 10) % len(pool)] for k in range(args.skus)]
            tasks.append(asyncio.create_task(subscribers.follow(ws_url, store, skus, stop)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # a gentler ramp than a thundering herd
        await subscribers.all_ready.wait()
        await asyncio.sleep(1)
        held = rss_kib(pid)
        per_subscriber = (held - before) * 1024 / args.subscribers

        latencies: list[float] = []
        quantity = 100_000
        for n in range(args.changes + WARM_UP):
            sku = pool[n % len(pool)]
            quantity += 1
            followers = sum(
                1 for i in range(args.subscribers)
                if sku in {pool[(i * 7 + k * 10) % len(pool)] for k in range(args.skus)}
            )  # fmt: skip
            sent = time.monotonic()
            change = {"changes": [{"sku": sku, "location_id": store, "quantity": quantity}]}
            answer = await http.post(f"{square}/_sandbox/square/inventory", json=change)
            assert answer.json()["deliveries"] == [200], answer.text
            deadline = time.monotonic() + 10
            while len(subscribers.arrivals[(sku, quantity)]) < followers:
                assert time.monotonic() < deadline, "a subscriber did not hear of a change"
                await asyncio.sleep(0.002)
            if n >= WARM_UP:  # the first changes fill the SKU mappings and connections
                latencies += [t - sent for t in subscribers.arrivals[(sku, quantity)]]
            await asyncio.sleep(0.25)  # past the subscribers' message interval

        burst = []
        for n in range(args.burst_changes):
            quantity += 1
            burst.append({"sku": pool[n % len(pool)], "location_id": store, "quantity": quantity})
        counted = subscribers.messages
        started = time.monotonic()
        answer = await http.post(
            f"{square}/_sandbox/square/inventory",
            json={"changes": burst, "concurrency": 25},
            timeout=600,
        )
        await asyncio.sleep(1)  # the last messages of the burst
        elapsed = time.monotonic() - started
        burst_messages = subscribers.messages - counted
        stop.set()
        await asyncio.gather(*tasks)
    print(f"subscribers held by one worker: {args.subscribers} ({args.skus} SKUs each)")
    print(f"gateway RSS: {before / 1024:.0f} MiB idle, {held / 1024:.0f} MiB holding them")
    print(f"memory per subscriber: {per_subscriber / 1024:.1f} KiB")
    print(
        f"webhook -> subscriber latency over {len(latencies)} deliveries: "
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print(
        f"burst: {args.burst_changes} changes delivered in {elapsed - 1:.1f} s; "
        f"{burst_messages} messages, {burst_messages / elapsed:.0f} messages/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=20)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--burst-changes", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, running_sandbox(scale=1.0) as sandbox:
        port = free_port()
        gateway_url = f"http://127.0.0.1:{port}"
        subscription = httpx.post(
            f"{sandbox.urls['square']}/v2/webhooks/subscriptions",
            headers={"authorization": f"Bearer {SQUARE_TOKEN}"},
            json={
                "idempotency_key": "bench",
                "subscription": {
                    "name": "bench",
                    "event_types": ["inventory.count.updated"],
                    "notification_url": f"{gateway_url}/webhooks/square",
                },
            },
        ).json()["subscription"]
        with LocalMongod(Path(data) / "mongodb") as mongod:
            env = {
                **os.environ,
                "OMNIGATE_ENV": "test",
                "OMNIGATE_MONGODB_URI": mongod.uri,
                "OMNIGATE_SQUARE__BASE_URL": sandbox.urls["square"],
                "OMNIGATE_SHOPIFY__BASE_URL": sandbox.urls["shopify"],
                "OMNIGATE_SALESFORCE__LOGIN_URL": sandbox.urls["salesforce"],
                "OMNIGATE_AUTH__ISSUER": sandbox.urls["identity"],
                "OMNIGATE_WEBHOOKS__SQUARE_SIGNATURE_KEY": subscription["signature_key"],
                "OMNIGATE_WEBHOOKS__SQUARE_NOTIFICATION_URL": f"{gateway_url}/webhooks/square",
            }
            gateway = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                _wait_until(gateway_url + "/healthz", gateway)
                asyncio.run(measure(args, sandbox.urls["square"], gateway_url, gateway.pid))
            finally:
                stop_process(gateway)


if __name__ == "__main__":
    main()
