"""Settings of the HubSpot adapter; the gateway's settings compose this as one section."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr


class HubSpotSettings(BaseModel):
    """Where the account's API is and the private app's access token; defaults: the simulator.

    `base_url` stands for https://api.hubapi.com (every HubSpot account, whatever its data
    center, is served there). The token is a private app's (Settings > Integrations >
    Private Apps), with the `crm.objects.contacts.read` and `tickets` scopes (tickets: the
    after-sales requests, docs/vendors/hubspot.md).
    """

    base_url: str = "http://127.0.0.1:8105"
    access_token: SecretStr = SecretStr("pat-na1-sandbox-hubspot-access-token")
