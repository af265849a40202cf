"""HubSpot's check: one contact search, one result at most: the token, its scope
(`crm.objects.contacts.read`) and every property the adapter reads, all at once."""

from __future__ import annotations

from connectors.check import CheckFailed, call_failed
from connectors.errors import UpstreamError
from connectors.http import UpstreamHttp
from connectors.hubspot.api import HubSpotApi
from connectors.hubspot.contacts import PROPERTIES
from connectors.hubspot.crm import CONTACTS
from connectors.hubspot.settings import HubSpotSettings

CREDENTIALS = ("access_token",)
PERMISSIONS = "the private app's crm.objects.contacts.read scope"


async def check_hubspot(http: UpstreamHttp, settings: HubSpotSettings) -> str:
    api = HubSpotApi(http, settings)
    try:
        await api.post(
            "hubspot.check",
            f"{CONTACTS}/search",
            {"filterGroups": [], "properties": list(PROPERTIES), "limit": 1},
        )
    except UpstreamError as error:
        if error.status == 400:
            raise CheckFailed(
                f"the account refuses what omnigate reads ({error.detail}); it needs the "
                "contact properties " + ", ".join(PROPERTIES)
            ) from error
        raise call_failed(
            error, url_field="base_url", credentials=CREDENTIALS, permissions=PERMISSIONS
        ) from error
    return (
        f"token accepted, contacts searchable with the {len(PROPERTIES)} properties omnigate reads"
    )
