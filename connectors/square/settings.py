"""Settings of the Square adapter; the gateway's settings compose this as one section."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

# Square's newest API version when this adapter was written (SDK releases of 2026-09-16).
# Pinning it in every request keeps the contract fixed whatever the app's dashboard default.
SQUARE_API_VERSION = "2026-09-16"


class SquareSettings(BaseModel):
    """Where Square is and how to authenticate; defaults point at the local simulator."""

    base_url: str = "http://127.0.0.1:8101"
    access_token: SecretStr = SecretStr("sandbox-square-token")
    api_version: str = Field(default=SQUARE_API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}$")
    # Square has no "warehouse" flag on a Location; the seller's online fulfilment location is
    # configuration. The default is the sandbox's fixed warehouse id (sandbox.dataset).
    online_location_id: str = "L0NLINEWH0001"
    # How long SKU <-> variation id mappings and the location list are reused before re-reading.
    catalog_cache_seconds: float = Field(default=300, ge=0)
