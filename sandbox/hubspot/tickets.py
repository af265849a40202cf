"""CRM v3 tickets as HubSpot serves them, in a portal set up as docs/vendors/hubspot.md says
(the custom `omnigate_*` properties, `omnigate_request_key` with unique values):

    POST  /crm/v3/objects/tickets               create, associations in the same call: 201
    POST  /crm/v3/objects/tickets/batch/upsert  up to 100 by a unique-value idProperty: 200
    POST  /crm/v3/objects/tickets/search        filter groups (`associations.contact` too)
    GET   /crm/v3/objects/tickets/{id}          ?properties=a,b&associations=contacts
    PATCH /crm/v3/objects/tickets/{id}          {"properties": {...}}
    PUT   /crm/v4/objects/ticket/{id}/associations/default/contact/{contactId}

HubSpot's rules as its API states them: a new ticket needs `subject` and `hs_pipeline_stage`
(an upsert creating one too); a value of a unique-value property another ticket holds is a
409 CONFLICT on create; an unknown property, pipeline, stage or priority is a 400
VALIDATION_ERROR naming it; `""` clears a property; an unknown id is a 404 OBJECT_NOT_FOUND;
moving to the Closed stage sets `closed_date`, moving out of it clears it. A search takes one
sort. Every answer a SimplePublicObject (or the batch/search envelope of them).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from sandbox.hubspot.contacts import ContactStore, format_datetime
from sandbox.hubspot.envelope import HubSpotApiError, validation_error
from sandbox.hubspot.search import matches, page_bounds, parse_groups, sort_key

UNIQUE = frozenset({"omnigate_request_key"})
CUSTOM = frozenset(
    {*UNIQUE, "omnigate_request_kind", "omnigate_channel", "omnigate_order_id", "omnigate_sku"}
)
WRITABLE = frozenset(
    {
        "subject",
        "content",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_priority",
        "hs_ticket_category",
        *CUSTOM,
    }
)
COMPUTED = frozenset({"createdate", "hs_lastmodifieddate", "closed_date", "hs_object_id"})
DATETIMES = frozenset({"createdate", "hs_lastmodifieddate", "closed_date"})
# HubSpot's default properties of a ticket, answered when a read names none
DEFAULT_PROPERTIES = (
    "content",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_category",
    "hs_ticket_priority",
    "subject",
)
# the default support pipeline: New, Waiting on contact, Waiting on us, Closed
PIPELINES = {"0": ("1", "2", "3", "4")}
CLOSED_STAGES = frozenset({"4"})
OPTIONS = {
    "hs_ticket_priority": frozenset({"LOW", "MEDIUM", "HIGH", "URGENT"}),
    "hs_ticket_category": frozenset(
        {"PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"}
    ),
}
TICKET_TO_CONTACT = 16
MAX_INPUTS = 100
SEARCHABLE = frozenset({*WRITABLE, *COMPUTED, "associations.contact"})


@dataclass(slots=True)
class Ticket:
    id: str
    values: dict[str, str]
    created: datetime
    updated: datetime
    contacts: list[str] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        if name == "hs_object_id":
            return self.id
        if name == "createdate":
            return format_datetime(self.created)
        if name == "hs_lastmodifieddate":
            return format_datetime(self.updated)
        return self.values.get(name)


class TicketStore:
    """The portal's tickets, in creation order, findable by id and by a unique value."""

    def __init__(self, contacts: ContactStore) -> None:
        self.rows: list[Ticket] = []
        self.contacts = contacts
        self._ids = itertools.count(1_800_000_001, 3)

    def get(self, ticket_id: str) -> Ticket | None:
        return next((t for t in self.rows if t.id == ticket_id), None)

    def holding(self, name: str, value: str) -> Ticket | None:
        return next((t for t in self.rows if t.values.get(name) == value), None)

    def of_contact(self, contact_id: str) -> list[Ticket]:
        return [t for t in self.rows if contact_id in t.contacts]

    def create(self, properties: Mapping[str, str], contacts: list[str]) -> Ticket:
        """A new ticket, once `properties` were checked (check_create)."""
        at = now()
        ticket = Ticket(str(next(self._ids)), {}, at, at, list(contacts))
        ticket.values["hs_pipeline"] = "0"
        apply(ticket, properties, at)
        self.rows.append(ticket)
        return ticket

    def check_create(self, properties: Mapping[str, str]) -> None:
        check(properties, None)
        missing = [n for n in ("subject", "hs_pipeline_stage") if not properties.get(n)]
        if missing:
            raise _invalid(
                "Property values were not valid: " + ", ".join(f"{n} is required" for n in missing),
                "REQUIRED_PROPERTY",
                missing,
            )
        for name in UNIQUE & properties.keys():
            holder = self.holding(name, properties[name])
            if holder is not None and properties[name]:
                raise HubSpotApiError(
                    409,
                    "CONFLICT",
                    f"A ticket with {name} {properties[name]!r} already exists. "
                    f"Existing ID: {holder.id}",
                )


def check(properties: Any, ticket: Ticket | None) -> dict[str, str]:
    """A write's properties as HubSpot checks them (known, writable, valid options), as
    they are."""
    if not isinstance(properties, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in properties.items()
    ):
        raise validation_error("properties must be an object of string values")
    unknown = sorted(n for n in properties if n not in WRITABLE)
    if unknown:
        raise _invalid(
            "Property values were not valid: "
            + ", ".join(f'Property "{n}" does not exist' for n in unknown),
            "PROPERTY_DOESNT_EXIST",
            unknown,
        )
    pipeline = properties.get("hs_pipeline") or (ticket.values["hs_pipeline"] if ticket else "0")
    if pipeline not in PIPELINES:
        raise _invalid(f"{pipeline} is not a valid pipeline", "INVALID_OPTION", ["hs_pipeline"])
    stage = properties.get("hs_pipeline_stage")
    if stage and stage not in PIPELINES[pipeline]:
        raise _invalid(
            f"{stage} is not a valid pipeline stage of pipeline {pipeline}",
            "INVALID_OPTION",
            ["hs_pipeline_stage"],
        )
    for name, options in OPTIONS.items():
        value = properties.get(name)
        if value and value not in options:
            raise _invalid(
                f"{value!r} was not one of the allowed options", "INVALID_OPTION", [name]
            )
    return properties


def apply(ticket: Ticket, properties: Mapping[str, str], at: datetime) -> None:
    """Write checked properties: `""` clears; the Closed stage sets closed_date."""
    was_closed = ticket.values.get("hs_pipeline_stage") in CLOSED_STAGES
    for name, value in properties.items():
        if value == "":
            ticket.values.pop(name, None)
        else:
            ticket.values[name] = value
    closed = ticket.values.get("hs_pipeline_stage") in CLOSED_STAGES
    if closed and not was_closed:
        ticket.values["closed_date"] = format_datetime(at)
    elif not closed:
        ticket.values.pop("closed_date", None)
    ticket.updated = at


def render(
    ticket: Ticket, properties: list[str] | None, associations: bool = False
) -> dict[str, Any]:
    """A SimplePublicObject (with its contacts when asked, SimplePublicObjectWithAssociations):
    the properties asked for that exist, and the three HubSpot always adds."""
    wanted = dict.fromkeys(
        [*(properties or DEFAULT_PROPERTIES), "createdate", "hs_lastmodifieddate", "hs_object_id"]
    )
    values = {n: ticket.value(n) for n in wanted if n in WRITABLE | COMPUTED}
    answer: dict[str, Any] = {
        "id": ticket.id,
        "properties": values,
        "createdAt": format_datetime(ticket.created),
        "updatedAt": format_datetime(ticket.updated),
        "archived": False,
    }
    if associations and ticket.contacts:
        answer["associations"] = {
            "contacts": {
                "results": [{"id": c, "type": "ticket_to_contact"} for c in ticket.contacts]
            }
        }
    return answer


def now() -> datetime:
    """HubSpot keeps instants to the millisecond."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _store(request: Request) -> TicketStore:
    store: TicketStore = request.app.state.hubspot_tickets
    return store


def _invalid(message: str, code: str, names: list[str]) -> HubSpotApiError:
    error = validation_error(message)
    error.errors = [
        {"message": message, "code": code, "context": {"propertyName": names}} for _ in names[:1]
    ]
    return error


def _not_found(ticket_id: str) -> HubSpotApiError:
    return HubSpotApiError(
        404, "OBJECT_NOT_FOUND", f"Object not found.  objectId are usually numeric. ({ticket_id})"
    )


def _contacts_of(store: TicketStore, raw: Any) -> list[str]:
    """The contact ids of a create's `associations` (PublicAssociationsForObject)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation_error("associations must be a list")
    contacts: list[str] = []
    for association in raw:
        to = association.get("to") if isinstance(association, dict) else None
        types = association.get("types") if isinstance(association, dict) else None
        target = to.get("id") if isinstance(to, dict) else None
        if not isinstance(target, str) or not isinstance(types, list) or not types:
            raise validation_error("an association is {to: {id}, types: [...]}")
        for kind in types:
            if not isinstance(kind, dict) or (
                kind.get("associationCategory"),
                kind.get("associationTypeId"),
            ) != ("HUBSPOT_DEFINED", TICKET_TO_CONTACT):
                raise validation_error(f"association type {kind!r} is not ticket_to_contact")
        if store.contacts.get(target) is None:
            raise validation_error(f"One or more associations are invalid: contact {target}")
        contacts.append(target)
    return list(dict.fromkeys(contacts))


async def create(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    store = _store(request)
    properties = check(body.get("properties"), None)
    store.check_create(properties)
    contacts = _contacts_of(store, body.get("associations"))
    ticket = store.create(properties, contacts)
    return 201, render(ticket, [*properties, "hs_pipeline"])


async def batch_upsert(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    started = now()
    store = _store(request)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise validation_error("inputs must be a non-empty list")
    if len(inputs) > MAX_INPUTS:
        raise validation_error(f"Batch input limited to {MAX_INPUTS} inputs, got {len(inputs)}")
    keys: list[tuple[str, str, dict[str, str]]] = []
    for item in inputs:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise validation_error("each input is {idProperty, id, properties}")
        id_property = item.get("idProperty")
        if id_property not in UNIQUE:
            raise validation_error(
                f"{id_property!r} is not a property of tickets with unique values"
            )
        keys.append((id_property, item["id"], check(item.get("properties"), None)))
    if len({(p, k) for p, k, _ in keys}) != len(keys):
        raise validation_error("Duplicate IDs found in batch input")
    # all checked before any is written: a refused batch writes nothing
    for id_property, key, properties in keys:
        existing = store.holding(id_property, key)
        if existing is None:
            store.check_create({**properties, id_property: key})
        else:
            check(properties, existing)
    at = now()
    results = []
    for id_property, key, properties in keys:
        existing = store.holding(id_property, key)
        if existing is None:
            ticket, new = store.create({**properties, id_property: key}, []), True
        else:
            apply(existing, properties, at)
            ticket, new = existing, False
        results.append({**render(ticket, [*properties, id_property]), "new": new})
    return 200, {
        "status": "COMPLETE",
        "results": results,
        "startedAt": format_datetime(started),
        "completedAt": format_datetime(now()),
    }


async def read(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ticket = _store(request).get(request.path_params["id"])
    if ticket is None:
        raise _not_found(request.path_params["id"])
    asked = request.query_params.get("properties")
    properties = [p for p in asked.split(",") if p] if asked else None
    with_contacts = "contacts" in request.query_params.get("associations", "").split(",")
    return 200, render(ticket, properties, associations=with_contacts)


async def update(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ticket = _store(request).get(request.path_params["id"])
    if ticket is None:
        raise _not_found(request.path_params["id"])
    properties = check(body.get("properties"), ticket)
    apply(ticket, properties, now())
    return 200, render(ticket, [*properties, "hs_pipeline", "hs_pipeline_stage"])


async def associate_default(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    started = now()
    store = _store(request)
    ticket_id, contact_id = request.path_params["id"], request.path_params["contact"]
    ticket = store.get(ticket_id)
    if ticket is None:
        raise _not_found(ticket_id)
    if store.contacts.get(contact_id) is None:
        raise _not_found(contact_id)
    if contact_id not in ticket.contacts:
        ticket.contacts.append(contact_id)
    return 200, {
        "status": "COMPLETE",
        "results": [
            {
                "from": {"id": ticket_id},
                "to": {"id": contact_id},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": TICKET_TO_CONTACT,
                },
            }
        ],
        "startedAt": format_datetime(started),
        "completedAt": format_datetime(now()),
    }


async def search(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    groups = parse_groups(body.get("filterGroups") or [], SEARCHABLE)
    limit, offset = page_bounds(body)
    properties = body.get("properties") or None
    if properties is not None and (
        not isinstance(properties, list) or not all(isinstance(p, str) for p in properties)
    ):
        raise validation_error("properties must be a list of property names")
    rows = _store(request).rows
    matched = [t for t in rows if not groups or any(all(_matches(f, t) for f in g) for g in groups)]
    matched = _sorted(matched, body.get("sorts") or [])
    page: dict[str, Any] = {
        "total": len(matched),
        "results": [render(t, properties) for t in matched[offset : offset + limit]],
    }
    if offset + limit < len(matched):
        page["paging"] = {"next": {"after": str(offset + limit)}}
    return 200, page


def _matches(rule: tuple[str, str, list[str]], ticket: Ticket) -> bool:
    name, operator, values = rule
    if name == "associations.contact":
        if operator == "EQ":
            return values[0] in ticket.contacts
        if operator == "IN":
            return any(v in ticket.contacts for v in values)
        raise validation_error(f"{operator} is not supported on associations.contact")
    return matches(rule, ticket, DATETIMES)


def _sorted(tickets: list[Ticket], sorts: Any) -> list[Ticket]:
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise validation_error("A search takes at most one sort")
    ordered = sorted(tickets, key=lambda t: int(t.id))
    for sort in sorts:
        if not isinstance(sort, dict) or sort.get("propertyName") not in SEARCHABLE - {
            "associations.contact"
        }:
            raise validation_error(f"cannot sort by {sort!r}")
        name = str(sort["propertyName"])
        descending = sort.get("direction") == "DESCENDING"
        # ties (the same millisecond) in the same direction by id, as ids grow with time
        ordered.sort(key=lambda t: (sort_key(t, name, DATETIMES), int(t.id)), reverse=descending)
    return ordered
