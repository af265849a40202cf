"""POST /crm/v3/objects/contacts/batch/read: up to 100 contacts by record id, or by a
unique property (`idProperty`: `email`, matched as HubSpot stores emails: trimmed, lower
case).

All found: 200 `BatchResponseSimplePublicObject`. Some not: 207 with the found ones and one
`OBJECT_NOT_FOUND` error listing the others' ids (`BatchResponseSimplePublicObjectWithErrors`).
More than 100 inputs, or another `idProperty`: 400 VALIDATION_ERROR.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from sandbox.hubspot.contacts import ContactStore, HubSpotContact, format_datetime, render
from sandbox.hubspot.envelope import validation_error

MAX_INPUTS = 100


async def batch_read(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    started = datetime.now(UTC)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(
        isinstance(i, dict) and isinstance(i.get("id"), str) for i in inputs
    ):
        raise validation_error("inputs must be a list of {id}")
    if len(inputs) > MAX_INPUTS:
        raise validation_error(f"Batch input limited to {MAX_INPUTS} inputs, got {len(inputs)}")
    id_property = body.get("idProperty")
    if id_property not in (None, "hs_object_id", "email"):
        raise validation_error(f"{id_property!r} is not a unique property of contacts")
    properties = body.get("properties") or []
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        raise validation_error("properties must be a list of property names")
    # counted by what it looked up too (as Shopify's by the fields a query asked for), so
    # a test tells reads by id from reads by email
    request.app.state.calls[f"batch/read by {id_property or 'id'}"] += 1
    store: ContactStore = request.app.state.hubspot_contacts
    found: dict[str, HubSpotContact] = {}
    missing: list[str] = []
    for item in inputs:
        key = item["id"]
        contact = store.by_email(key) if id_property == "email" else store.get(key)
        if contact is None:
            missing.append(key)
        else:
            found.setdefault(contact.id, contact)
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": [render(c, properties) for c in found.values()],
        "startedAt": format_datetime(started),
        "completedAt": format_datetime(datetime.now(UTC)),
    }
    if not missing:
        return 200, answer
    answer["numErrors"] = 1
    answer["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": missing},
            "links": {},
            "errors": [],
        }
    ]
    return 207, answer
