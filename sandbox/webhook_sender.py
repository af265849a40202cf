"""Delivering the simulators' webhooks: one signed POST per event to each subscriber, as the
vendors do, awaited so a test knows its change has landed when the control call answers."""

from __future__ import annotations

import httpx

# the gateway answers a delivery at once; a vendor gives up after about this long
DELIVERY_TIMEOUT = httpx.Timeout(10.0)


async def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The receiver's status, or 0 when it could not be reached."""
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
        try:
            response = await client.post(
                url, content=body, headers={"content-type": "application/json", **headers}
            )
        except httpx.HTTPError:
            return 0
    return response.status_code
