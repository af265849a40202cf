"""Salesforce (REST API, OAuth 2.0 client credentials) as omnigate's CRM adapter."""

from connectors.salesforce.crm import SalesforceCrm
from connectors.salesforce.settings import SALESFORCE_API_VERSION, SalesforceSettings

__all__ = ["SALESFORCE_API_VERSION", "SalesforceCrm", "SalesforceSettings"]
