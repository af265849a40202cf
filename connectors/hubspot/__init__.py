"""HubSpot (CRM API v3, private app access token) as omnigate's CRM adapter."""

from connectors.hubspot.crm import HubSpotCrm
from connectors.hubspot.settings import HubSpotSettings

__all__ = ["HubSpotCrm", "HubSpotSettings"]
