"""A faithful local simulator of HubSpot's CRM API v3 for contacts and tickets (see
`app.create_app`)."""

from sandbox.hubspot.app import SANDBOX_ACCESS_TOKEN, SANDBOX_CLIENT_SECRET, create_app
from sandbox.hubspot.contacts import HubSpotContact, hubspot_contacts

__all__ = [
    "SANDBOX_ACCESS_TOKEN",
    "SANDBOX_CLIENT_SECRET",
    "HubSpotContact",
    "create_app",
    "hubspot_contacts",
]
