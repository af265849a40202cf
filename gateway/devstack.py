"""`omnigate dev` (what `make run` starts): a local mongod, the sandbox vendors and the
gateway, in the foreground; Ctrl-C stops all of it. The sandbox's promotions
(sandbox/offers.yaml) are applied at start-up as `omnigate offers apply` would, so every
channel shows offers; unless `OMNIGATE_ADAPTERS__LOYALTY=pos`, the sandbox's loyalty members
are opened in omnigate's own ledger with their Square balances, so the ledger, when it
keeps the points, shows the same ones.

mongod is a child process that also dies with us (PR_SET_PDEATHSIG), so even a killed
`make run` leaves nothing behind. Its data stays in `.data/mongodb` between runs; delete
the folder to start afresh.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymongo import AsyncMongoClient

from commerce.offers.points_ledger import MongoPointsLedger
from gateway.app import create_app
from gateway.local_mongod import LocalMongod
from gateway.offers_file import apply_offers_file
from gateway.serving import CoServer, serve_together, server_config
from gateway.settings import Settings, upstream_services
from gateway.wiring.sandbox import (
    SANDBOX_OFFERS,
    member_accounts,
    sandbox_apps,
    send_webhooks_to,
)

log = logging.getLogger("omnigate.dev")


def run_dev_stack(settings: Settings, data_dir: Path, *, scale: float, seed: int) -> None:
    with LocalMongod(data_dir / "mongodb") as mongod:
        settings = settings.with_changes(mongodb_uri=mongod.uri)
        offers = seed_offers(settings)
        members = seed_loyalty(settings, scale=scale, seed=seed)
        apps = sandbox_apps(
            ports=sandbox_ports(settings),
            scale=scale,
            seed=seed,
            hubspot_webhook_target=hubspot_webhook_target(settings),
        )
        # stock and price changes made in the sandbox reach live subscribers (docs/live.md)
        hooks = settings.webhooks
        send_webhooks_to(
            apps,
            square_url=hooks.square_notification_url,
            square_key=hooks.square_signature_key.get_secret_value(),
            shopify_url=f"http://{settings.host}:{settings.port}/webhooks/shopify",
        )
        servers = [CoServer(server_config(a.app, "127.0.0.1", a.port)) for a in apps]
        gateway = CoServer(server_config(create_app(settings), settings.host, settings.port))
        print(f"MongoDB    {mongod.uri}  (data in {data_dir / 'mongodb'})")
        print(f"offers     {offers}")
        if members:
            print(f"loyalty    {members}")
        for a in apps:
            print(f"sandbox    {a.vendor:<10} {a.url}")
        base_url = f"http://{settings.host}:{settings.port}"
        print(f"\nGraphiQL   {base_url}/graphql")
        print(f"kiosk      {base_url}/kiosk  (docs/kiosk.md)\n")
        print("Ctrl-C stops everything.", flush=True)
        asyncio.run(serve_together([*servers, gateway]))


def seed_offers(settings: Settings) -> str:
    """Applies the sandbox's offers file; what it changed, in one line. A file that does
    not apply stops the stack with its problems (SystemExit)."""
    printed: list[str] = []
    problems: list[str] = []
    code = asyncio.run(
        apply_offers_file(
            settings, SANDBOX_OFFERS, dry_run=False, out=printed.append, err=problems.append
        )
    )
    if code != 0:
        raise SystemExit("\n".join(problems))
    return f"{printed[-1]} ({SANDBOX_OFFERS.name})"


def seed_loyalty(settings: Settings, *, scale: float, seed: int) -> str:
    """The sandbox's members opened in omnigate's ledger (accounts already open are left as
    they are); what was done, in one line, or "" when Square Loyalty alone is chosen."""
    if settings.adapters.loyalty == "pos":
        return ""
    accounts = member_accounts(scale, seed, settings.adapters.pos)

    async def open_all() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongodb_uri.get_secret_value()
        )
        try:
            await MongoPointsLedger(client, client[settings.mongodb_database]).open_accounts(
                accounts
            )
        finally:
            await client.close()

    asyncio.run(open_all())
    return f"{len(accounts)} members in omnigate's ledger (OMNIGATE_ADAPTERS__LOYALTY)"


def hubspot_webhook_target(settings: Settings) -> str | None:
    """With HubSpot as the CRM, the simulator sends its contact webhooks to this gateway."""
    if settings.adapters.crm != "hubspot":
        return None
    return f"http://{settings.host}:{settings.port}/webhooks/hubspot"


def sandbox_ports(settings: Settings) -> dict[str, int]:
    """Serve each simulator where the gateway's settings expect that vendor."""
    urls = upstream_services(settings)
    return {vendor: port for vendor, url in urls.items() if (port := urlsplit(url).port)}
