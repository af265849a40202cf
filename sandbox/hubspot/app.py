"""The HubSpot simulator app: CRM v3 contacts (search, batch read) and tickets (create,
batch upsert, search, read, update, the v4 default association) behind a private app's
token, and the signed webhooks of a subscribed app."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from sandbox.calls import counted_app
from sandbox.dataset import Dataset
from sandbox.hubspot import tickets
from sandbox.hubspot.batch import batch_read
from sandbox.hubspot.contacts import ContactStore
from sandbox.hubspot.control import control_routes
from sandbox.hubspot.envelope import Gate, TenSecondly, api_endpoint
from sandbox.hubspot.search import search
from sandbox.hubspot.tickets import TicketStore
from sandbox.hubspot.webhooks import AppWebhooks

# The gateway's defaults hold these (connectors.hubspot.settings, gateway.settings webhooks).
SANDBOX_ACCESS_TOKEN = "pat-na1-sandbox-hubspot-access-token"
SANDBOX_CLIENT_SECRET = "sandbox-hubspot-client-secret"
# Where the sandbox's app points its webhooks until a test or `make run` says otherwise:
# the gateway's default address (nothing is sent there unless targetUrl is set).
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/hubspot"


def create_app(
    dataset: Dataset,
    *,
    public_url: str,
    access_token: str = SANDBOX_ACCESS_TOKEN,
    client_secret: str = SANDBOX_CLIENT_SECRET,
    webhook_target: str | None = None,
    ten_secondly_limit: int | None = None,
) -> Starlette:
    """The simulator; `webhook_target`: where contact changes are sent (None: nowhere);
    `ten_secondly_limit`: HubSpot's rolling limit of requests per 10 seconds (None: none,
    as the tests that count calls want; 190 is a Professional account's private app)."""
    contacts = "/crm/v3/objects/contacts"
    ticket_objects = "/crm/v3/objects/tickets"
    no_body = {"takes_body": False}
    routes: list[BaseRoute] = [
        Route(contacts + "/search", api_endpoint(search), methods=["POST"]),
        Route(contacts + "/batch/read", api_endpoint(batch_read), methods=["POST"]),
        Route(ticket_objects, api_endpoint(tickets.create), methods=["POST"]),
        Route(ticket_objects + "/search", api_endpoint(tickets.search), methods=["POST"]),
        Route(
            ticket_objects + "/batch/upsert", api_endpoint(tickets.batch_upsert), methods=["POST"]
        ),
        Route(ticket_objects + "/{id}", api_endpoint(tickets.read, **no_body), methods=["GET"]),
        Route(ticket_objects + "/{id}", api_endpoint(tickets.update), methods=["PATCH"]),
        Route(
            "/crm/v4/objects/ticket/{id}/associations/default/contact/{contact}",
            api_endpoint(tickets.associate_default, **no_body),
            methods=["PUT"],
        ),
        *control_routes,
    ]
    contact_store = ContactStore(dataset)
    return counted_app(
        routes,
        hubspot_gate=Gate(
            access_token=access_token,
            ten_secondly=None if ten_secondly_limit is None else TenSecondly(ten_secondly_limit),
        ),
        hubspot_contacts=contact_store,
        hubspot_tickets=TicketStore(contact_store),
        hubspot_webhooks=AppWebhooks(webhook_target, client_secret, DEFAULT_WEBHOOK_URL),
        public_url=public_url.rstrip("/"),
    )
