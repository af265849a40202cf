"""Test-only control of the simulator, under /_sandbox/ (never counted as API calls):

    POST /_sandbox/hubspot/contacts/{id}   {"firstname": "Ana", "phone": "+1..."}

edits a contact as a user would in HubSpot (firstname, lastname, email, phone, mobilephone,
hs_email_optout; `{}` only touches it), sets lastmodifieddate to now, and, as HubSpot does
for a subscribed app, makes the signed `contact.propertyChange` webhook request: sent to the
target URL if one is set, and answered either way (`webhook`: method, url, headers, body,
and `status` when sent), so a test can replay it to a gateway it runs in process.

    PUT /_sandbox/hubspot/webhooks   {"targetUrl": "http://.../webhooks/hubspot" | null}
    POST /_sandbox/hubspot/tickets/{id}   {"hs_pipeline_stage": "3", "hs_ticket_priority": "HIGH"}

moves a ticket as an agent would in HubSpot (any writable property; checked as the API
checks a PATCH) and answers it.

    POST /_sandbox/hubspot/rate-limits   {"policyName": "TEN_SECONDLY_ROLLING",
                                          "requests": 2, "retryAfter": "1"}

set the app's webhook target, and make the next `requests` API calls answer 429 naming
`policyName`, with `Retry-After: retryAfter` when given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.calls import CONTROL_PREFIX
from sandbox.hubspot.contacts import DEFAULT_PROPERTIES, EDITABLE, ContactStore, render
from sandbox.hubspot.envelope import Gate, HubSpotApiError, ScriptedLimit
from sandbox.hubspot.tickets import TicketStore, apply, check, now
from sandbox.hubspot.tickets import render as render_ticket
from sandbox.hubspot.webhooks import AppWebhooks, property_changes, signed

POLICIES = ("TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY")


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


async def edit_contact(request: Request) -> Response:
    changes = await _json(request)
    if not isinstance(changes, dict):
        return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
    for name, value in changes.items():
        if name not in EDITABLE:
            return JSONResponse({"error": f"{name} cannot be edited"}, status_code=400)
        if value is not None and not isinstance(value, str):
            return JSONResponse({"error": f"{name} takes a string"}, status_code=400)
    store: ContactStore = request.app.state.hubspot_contacts
    contact_id = request.path_params["id"]
    if store.get(contact_id) is None:
        return JSONResponse({"error": "no such contact"}, status_code=404)
    contact = store.update(contact_id, changes, datetime.now(UTC))
    webhooks: AppWebhooks = request.app.state.hubspot_webhooks
    delivery = signed(
        webhooks.target_url or webhooks.unsent_url,
        property_changes(contact.id, {name: contact.value(name) for name in changes}),
        webhooks.client_secret,
    )
    answer = delivery.as_json()
    if webhooks.target_url and changes:
        async with httpx.AsyncClient(timeout=10) as client:
            sent = await client.post(delivery.url, content=delivery.body, headers=delivery.headers)
        answer["status"] = sent.status_code
    return JSONResponse(
        {"contact": render(contact, [*DEFAULT_PROPERTIES, *EDITABLE]), "webhook": answer}
    )


async def move_ticket(request: Request) -> Response:
    changes = await _json(request)
    store: TicketStore = request.app.state.hubspot_tickets
    ticket = store.get(request.path_params["id"])
    if ticket is None:
        return JSONResponse({"error": "no such ticket"}, status_code=404)
    try:
        checked = check(changes, ticket)
    except HubSpotApiError as error:
        return JSONResponse(error.body(), status_code=error.status)
    apply(ticket, checked, now())
    return JSONResponse(render_ticket(ticket, None, associations=True))


async def set_webhook_target(request: Request) -> Response:
    body = await _json(request)
    target = body.get("targetUrl") if isinstance(body, dict) else None
    if target is not None and not (isinstance(target, str) and "://" in target):
        return JSONResponse({"error": "targetUrl is an absolute URL or null"}, status_code=400)
    webhooks: AppWebhooks = request.app.state.hubspot_webhooks
    webhooks.target_url = target
    return JSONResponse({"targetUrl": target})


async def script_rate_limits(request: Request) -> Response:
    body = await _json(request)
    if not isinstance(body, dict) or body.get("policyName") not in POLICIES:
        return JSONResponse({"error": f"policyName is one of {POLICIES}"}, status_code=400)
    requests = body.get("requests", 1)
    retry_after = body.get("retryAfter")
    if not isinstance(requests, int) or requests < 0:
        return JSONResponse({"error": "requests is a count"}, status_code=400)
    if retry_after is not None and not isinstance(retry_after, str):
        return JSONResponse({"error": "retryAfter is the header's text"}, status_code=400)
    gate: Gate = request.app.state.hubspot_gate
    gate.limits.clear()
    gate.limits.extend([ScriptedLimit(body["policyName"], retry_after)] * requests)
    return JSONResponse({"scripted": requests})


control_routes = [
    Route(CONTROL_PREFIX + "hubspot/contacts/{id}", edit_contact, methods=["POST"]),
    Route(CONTROL_PREFIX + "hubspot/tickets/{id}", move_ticket, methods=["POST"]),
    Route(CONTROL_PREFIX + "hubspot/webhooks", set_webhook_target, methods=["PUT"]),
    Route(CONTROL_PREFIX + "hubspot/rate-limits", script_rate_limits, methods=["POST"]),
]
