"""Settings of the Salesforce adapter; the gateway's settings compose this as one section."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

# Summer '26 (API 67.0), the newest generally available release in the REST API guide's
# version list when this adapter was written. Pinned so an org upgrade never changes shapes.
SALESFORCE_API_VERSION = "v67.0"


class SalesforceSettings(BaseModel):
    """Where the org is and how the external client app authenticates; defaults: the simulator.

    `login_url` stands for https://login.salesforce.com or the org's My Domain URL (the client
    credentials flow needs My Domain); the token response names the instance for data calls.
    """

    login_url: str = "http://127.0.0.1:8103"
    client_id: str = "sandbox-client-id"
    client_secret: SecretStr = SecretStr("sandbox-client-secret")
    api_version: str = Field(default=SALESFORCE_API_VERSION, pattern=r"^v\d+\.\d$")
