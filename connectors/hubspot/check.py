"""HubSpot's check: two searches of one result at most. A contact search: the token, its
scope (`crm.objects.contacts.read`) and every contact property the adapter reads. A ticket
search filtering on each custom ticket property (HubSpot refuses a filter on a property the
portal does not have): the `tickets` scope and the properties after-sales requests need
(docs/vendors/hubspot.md)."""

from __future__ import annotations

from connectors.check import CheckFailed, call_failed
from connectors.errors import UpstreamError
from connectors.http import UpstreamHttp
from connectors.hubspot import tickets
from connectors.hubspot.api import HubSpotApi
from connectors.hubspot.contacts import PROPERTIES
from connectors.hubspot.crm import CONTACTS, TICKETS
from connectors.hubspot.settings import HubSpotSettings

CREDENTIALS = ("access_token",)
PERMISSIONS = "the private app's crm.objects.contacts.read and tickets scopes"


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
        raise _failed(error) from error
    try:
        await api.post("hubspot.check_tickets", f"{TICKETS}/search", ticket_search())
    except UpstreamError as error:
        if error.status == 400:
            raise CheckFailed(
                f"the account lacks ticket properties omnigate writes ({error.detail}); it "
                "needs the custom ticket properties " + ", ".join(tickets.CUSTOM_PROPERTIES)
            ) from error
        raise _failed(error) from error
    return (
        f"token accepted, contacts searchable with the {len(PROPERTIES)} properties omnigate "
        f"reads, tickets with its {len(tickets.CUSTOM_PROPERTIES)} custom properties"
    )


def ticket_search() -> dict[str, object]:
    """One filter group per custom property (groups are ORed): each must exist."""
    groups = [
        {"filters": [{"propertyName": name, "operator": "HAS_PROPERTY"}]}
        for name in tickets.CUSTOM_PROPERTIES
    ]
    return {"filterGroups": groups, "properties": list(tickets.PROPERTIES), "limit": 1}


def _failed(error: UpstreamError) -> CheckFailed:
    return call_failed(
        error, url_field="base_url", credentials=CREDENTIALS, permissions=PERMISSIONS
    )
