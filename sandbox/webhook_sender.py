"""Delivering the simulators' webhooks: one signed POST per event to each subscriber, as the
vendors do, awaited so a test knows its change has landed when the control call answers."""

from __future__ import annotations

from typing import Any

import httpx

# the gateway answers a delivery at once; a vendor gives up after about this long
DELIVERY_TIMEOUT = httpx.Timeout(10.0)
# no connection is kept idle, so nothing is left open when the simulator stops
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


def sender(state: Any) -> httpx.AsyncClient:
    """The app's one client for deliveries, made on first use (making a client costs tens of
    milliseconds: its TLS context), in the event loop the simulator serves from."""
    client: httpx.AsyncClient | None = getattr(state, "webhook_sender", None)
    if client is None:
        client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, limits=NO_KEEPALIVE)
        state.webhook_sender = client
    return client


async def deliver(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    """The receiver's status, or 0 when it could not be reached."""
    try:
        response = await client.post(
            url, content=body, headers={"content-type": "application/json", **headers}
        )
    except httpx.HTTPError:
        return 0
    return response.status_code
