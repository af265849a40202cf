"""The Salesforce simulator app: OAuth client credentials, SOQL query, sObject Collections,
Case create, read, update and upsert (sobjects.py) and Case describe (describe.py)."""

from __future__ import annotations

import random
from datetime import timedelta

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from sandbox.calls import counted_app
from sandbox.dataset import Dataset, salesforce_id
from sandbox.salesforce import describe, sobjects
from sandbox.salesforce.cases import CaseTable
from sandbox.salesforce.composite import retrieve
from sandbox.salesforce.contacts import ContactTable
from sandbox.salesforce.control import control_routes
from sandbox.salesforce.envelope import ApiLimit, Gate, NoApiLimit, rest_endpoint
from sandbox.salesforce.oauth import ConnectedApp, token
from sandbox.salesforce.query import QueryCursors, query, query_more
from sandbox.salesforce.sessions import DEFAULT_SESSION_TIMEOUT, Clock, SessionStore, utc_now

# The gateway's default SalesforceSettings hold these (connectors.salesforce.settings).
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"


def create_app(
    dataset: Dataset,
    *,
    public_url: str,
    client_id: str = SANDBOX_CLIENT_ID,
    client_secret: str = SANDBOX_CLIENT_SECRET,
    session_timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
    clock: Clock = utc_now,
    api_limit: ApiLimit | None = None,
) -> Starlette:
    """The simulator; `public_url` is both its login URL and the `instance_url` it hands out."""
    public_url = public_url.rstrip("/")
    ids = random.Random(f"salesforce-org-{dataset.seed}")
    org_id = salesforce_id("00D", ids)
    sessions = SessionStore(org_id, session_timeout, clock)
    data = "/services/data/{version}"
    routes: list[BaseRoute] = [
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route(data + "/query", rest_endpoint(query), methods=["GET"]),
        Route(data + "/query/{locator}", rest_endpoint(query_more), methods=["GET"]),
        Route(data + "/composite/sobjects/{sobject}", rest_endpoint(retrieve), methods=["GET"]),
        Route(data + "/sobjects/{sobject}", rest_endpoint(sobjects.create), methods=["POST"]),
        # before {id}: "describe" is a resource, not a record id
        Route(
            data + "/sobjects/{sobject}/describe",
            rest_endpoint(describe.describe),
            methods=["GET"],
        ),
        Route(data + "/sobjects/{sobject}/{id}", rest_endpoint(sobjects.read), methods=["GET"]),
        Route(data + "/sobjects/{sobject}/{id}", rest_endpoint(sobjects.update), methods=["PATCH"]),
        Route(
            data + "/sobjects/{sobject}/{field}/{value}",
            rest_endpoint(sobjects.read_by_key),
            methods=["GET"],
        ),
        Route(
            data + "/sobjects/{sobject}/{field}/{value}",
            rest_endpoint(sobjects.upsert),
            methods=["PATCH"],
        ),
        *control_routes,
    ]
    return counted_app(
        routes,
        salesforce_gate=Gate(sessions=sessions, api_limit=api_limit or NoApiLimit()),
        salesforce_connected_app=ConnectedApp(
            client_id=client_id,
            client_secret=client_secret,
            org_id=org_id,
            run_as_user_id=salesforce_id("005", ids),
            public_url=public_url,
        ),
        salesforce_contacts=ContactTable(dataset),
        salesforce_cases=CaseTable(str(dataset.seed)),
        salesforce_cursors=QueryCursors(),
        public_url=public_url,
    )
