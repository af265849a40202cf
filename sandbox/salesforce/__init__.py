"""A faithful local simulator of the Salesforce REST API for Contacts and Cases (see
`app.create_app`)."""

from sandbox.salesforce.app import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, create_app
from sandbox.salesforce.envelope import LATEST_API_VERSION, ApiLimit, NoApiLimit
from sandbox.salesforce.sessions import DEFAULT_SESSION_TIMEOUT, SessionStore

__all__ = [
    "DEFAULT_SESSION_TIMEOUT",
    "LATEST_API_VERSION",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "ApiLimit",
    "NoApiLimit",
    "SessionStore",
    "create_app",
]
