"""After-sales requests as HubSpot tickets (CRM v3 `objects/tickets`): the properties omnigate
writes and reads, the bodies that open, find and move them, and how a ticket becomes an
AfterSalesRecord.

The portal needs the setup docs/vendors/hubspot.md lists: five custom ticket properties
(group `omnigate`), `omnigate_request_key` (single-line text with unique values, the key that
makes a retried request one ticket), `omnigate_request_kind`, `omnigate_channel`,
`omnigate_order_id` and `omnigate_sku`; and the default support pipeline ("0") with its
default stages. Status mapping on that pipeline:

| status    | written                                   | read back from                          |
|-----------|-------------------------------------------|-----------------------------------------|
| NEW       | stage "1" (New)                           | stage "1"                               |
| WORKING   | stage "3" (Waiting on us); a HIGH priority | stage "2" or "3", priority not HIGH     |
|           | lowered to MEDIUM                         |                                         |
| ESCALATED | stage "3", hs_ticket_priority HIGH        | stage "2" or "3", priority HIGH         |
| CLOSED    | stage "4" (Closed)                        | stage "4"                               |
| UNKNOWN   | never                                     | any other pipeline or stage             |

The default pipeline has no "escalated" stage: HubSpot's agents escalate by priority, so
omnigate reads and writes it there.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from connectors.hubspot.contacts import parse_datetime
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    AfterSalesRecord,
    AfterSalesStatus,
    ExternalRef,
    System,
)

OBJECT_TYPE = "tickets"
KEY_PROPERTY = "omnigate_request_key"
KIND_PROPERTY = "omnigate_request_kind"
CHANNEL_PROPERTY = "omnigate_channel"
ORDER_PROPERTY = "omnigate_order_id"
SKU_PROPERTY = "omnigate_sku"
CUSTOM_PROPERTIES = (KEY_PROPERTY, KIND_PROPERTY, CHANNEL_PROPERTY, ORDER_PROPERTY, SKU_PROPERTY)
PROPERTIES = (
    "subject",
    "content",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "createdate",
    "hs_lastmodifieddate",
    "closed_date",
    *CUSTOM_PROPERTIES,
)
PIPELINE = "0"  # the default support pipeline
STAGE_NEW, STAGE_WAITING_ON_CONTACT, STAGE_WAITING_ON_US, STAGE_CLOSED = "1", "2", "3", "4"
OPEN_STAGES = (STAGE_WAITING_ON_CONTACT, STAGE_WAITING_ON_US)
ESCALATED_PRIORITY = "HIGH"
LOWERED_PRIORITY = "MEDIUM"
# HubSpot's default association of a ticket to a contact ("ticket_to_contact")
TICKET_TO_CONTACT = 16
SEARCH_PAGE_MAX = 200
SUBJECT_LIMIT = 255
_Enum = TypeVar("_Enum", AfterSalesKind, AfterSalesChannel)


def is_record_id(value: str) -> bool:
    """HubSpot record ids are numbers: anything else is never sent into a URL path."""
    return value.isascii() and value.isdigit() and len(value) <= 20


def ticket_properties(draft: AfterSalesDraft) -> dict[str, str]:
    """What a ticket holds of the request, without a pipeline or stage: the upsert of one
    that exists sends only these, so a retry never moves a worked ticket back to New."""
    subject = draft.kind.value.capitalize()
    if draft.order_id:
        subject += f" - order {draft.order_id}"
    if draft.sku:
        subject += f" - {draft.sku}"
    properties = {
        KEY_PROPERTY: draft.key,
        "subject": subject[:SUBJECT_LIMIT],
        "content": draft.description,
        KIND_PROPERTY: draft.kind.value,
        CHANNEL_PROPERTY: draft.channel.value,
    }
    if draft.order_id:
        properties[ORDER_PROPERTY] = draft.order_id
    if draft.sku:
        properties[SKU_PROPERTY] = draft.sku
    return properties


def create_body(draft: AfterSalesDraft) -> dict[str, Any]:
    """The create (SimplePublicObjectInputForCreate): the request in the first stage of the
    support pipeline, associated to its contact in the same call."""
    return {
        "properties": {
            **ticket_properties(draft),
            "hs_pipeline": PIPELINE,
            "hs_pipeline_stage": STAGE_NEW,
        },
        "associations": [
            {
                "to": {"id": draft.customer_ref.id},
                "types": [
                    {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": TICKET_TO_CONTACT,
                    }
                ],
            }
        ],
    }


def upsert_body(draft: AfterSalesDraft) -> dict[str, Any]:
    """The batch upsert (BatchInputSimplePublicObjectBatchInputUpsert) finding the ticket
    of `draft.key`: no stage, so the ticket stays where the agents put it."""
    return {
        "inputs": [
            {"idProperty": KEY_PROPERTY, "id": draft.key, "properties": ticket_properties(draft)}
        ]
    }


def search_body(
    contact_id: str, limit: int, created_before: datetime | None, after: str | None
) -> dict[str, Any]:
    """One page of a contact's tickets, newest first (PublicObjectSearchRequest)."""
    filters: list[dict[str, Any]] = [
        {"propertyName": "associations.contact", "operator": "EQ", "value": contact_id}
    ]
    if created_before is not None:
        filters.append(
            {
                "propertyName": "createdate",
                "operator": "LTE",
                "value": str(int(created_before.timestamp() * 1000)),
            }
        )
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
        "properties": list(PROPERTIES),
        "limit": max(1, min(limit, SEARCH_PAGE_MAX)),
    }
    if after is not None:
        body["after"] = after
    return body


def status_properties(status: AfterSalesStatus, priority: str | None) -> dict[str, str]:
    """The PATCH moving a ticket whose priority is `priority` to `status` (not UNKNOWN)."""
    if status is AfterSalesStatus.NEW:
        return {"hs_pipeline": PIPELINE, "hs_pipeline_stage": STAGE_NEW}
    if status is AfterSalesStatus.CLOSED:
        return {"hs_pipeline": PIPELINE, "hs_pipeline_stage": STAGE_CLOSED}
    if status is AfterSalesStatus.ESCALATED:
        return {
            "hs_pipeline": PIPELINE,
            "hs_pipeline_stage": STAGE_WAITING_ON_US,
            "hs_ticket_priority": ESCALATED_PRIORITY,
        }
    if status is AfterSalesStatus.WORKING:
        moved = {"hs_pipeline": PIPELINE, "hs_pipeline_stage": STAGE_WAITING_ON_US}
        if priority == ESCALATED_PRIORITY:
            moved["hs_ticket_priority"] = LOWERED_PRIORITY
        return moved
    raise ValueError(f"{status} is read from the CRM, never set")


def status_of(properties: Mapping[str, Any]) -> AfterSalesStatus:
    if properties.get("hs_pipeline") != PIPELINE:
        return AfterSalesStatus.UNKNOWN
    stage = properties.get("hs_pipeline_stage")
    if stage == STAGE_NEW:
        return AfterSalesStatus.NEW
    if stage == STAGE_CLOSED:
        return AfterSalesStatus.CLOSED
    if stage in OPEN_STAGES:
        if properties.get("hs_ticket_priority") == ESCALATED_PRIORITY:
            return AfterSalesStatus.ESCALATED
        return AfterSalesStatus.WORKING
    return AfterSalesStatus.UNKNOWN


def priority_of(ticket: Any) -> str | None:
    properties = ticket.get("properties") if isinstance(ticket, dict) else None
    return _text(properties.get("hs_ticket_priority")) if isinstance(properties, dict) else None


def associated_contact(ticket: Mapping[str, Any]) -> str | None:
    """The first contact of a ticket read with `associations=contacts`."""
    associations = ticket.get("associations")
    contacts = associations.get("contacts") if isinstance(associations, dict) else None
    results = contacts.get("results") if isinstance(contacts, dict) else None
    if not isinstance(results, list):
        return None
    ids = [r.get("id") for r in results if isinstance(r, dict)]
    return next((i for i in ids if isinstance(i, str) and i), None)


def after_sales_record(ticket: Any, contact_id: str | None) -> AfterSalesRecord | None:
    """The request a ticket (a SimplePublicObject) describes, or None if it is not one."""
    if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), str):
        return None
    properties = ticket.get("properties")
    if not isinstance(properties, dict):
        return None
    created = parse_datetime(ticket.get("createdAt")) or parse_datetime(
        properties.get("createdate")
    )
    if created is None:
        return None
    contact = contact_id or associated_contact(ticket)
    return AfterSalesRecord(
        ref=ExternalRef(System.HUBSPOT, ticket["id"]),
        number=ticket["id"],  # HubSpot shows agents the Ticket ID
        customer_ref=None if contact is None else ExternalRef(System.HUBSPOT, contact),
        kind=_enum(AfterSalesKind, properties.get(KIND_PROPERTY)),
        status=status_of(properties),
        description=_text(properties.get("content")),
        channel=_enum(AfterSalesChannel, properties.get(CHANNEL_PROPERTY)),
        order_id=_text(properties.get(ORDER_PROPERTY)),
        sku=_text(properties.get(SKU_PROPERTY)),
        created_at=created,
        updated_at=parse_datetime(ticket.get("updatedAt")),
        closed_at=parse_datetime(properties.get("closed_date")),
        key=_text(properties.get(KEY_PROPERTY)),
    )


def _enum(kind: type[_Enum], value: object) -> _Enum | None:
    try:
        return kind(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
