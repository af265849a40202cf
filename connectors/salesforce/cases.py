"""After-sales requests as Salesforce Cases: the fields omnigate writes and reads, and how a
Case record becomes an AfterSalesRecord.

The org needs the setup docs/vendors/salesforce.md lists: Case's Type picklist holding
"Damaged Item", "Missing Item" and "Question", Origin holding "App" and "Store", and three
custom fields, `Omnigate_Request_Key__c` (Text(255), External ID, Unique: the upsert key
that makes a retried request one Case), `Omnigate_Order_Id__c` and `Omnigate_SKU__c`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesKind,
    AfterSalesRecord,
    AfterSalesStatus,
    ExternalRef,
    System,
)
from connectors.salesforce.contacts import parse_datetime
from connectors.salesforce.soql import datetime_literal, in_list

SOBJECT = "Case"
KEY_FIELD = "Omnigate_Request_Key__c"
ORDER_FIELD = "Omnigate_Order_Id__c"
SKU_FIELD = "Omnigate_SKU__c"
FIELDS = (
    "Id",
    "CaseNumber",
    "ContactId",
    "Subject",
    "Description",
    "Status",
    "Origin",
    "Type",
    "IsClosed",
    "CreatedDate",
    "LastModifiedDate",
    "ClosedDate",
    KEY_FIELD,
    ORDER_FIELD,
    SKU_FIELD,
)
TYPES = {
    AfterSalesKind.DAMAGED: "Damaged Item",
    AfterSalesKind.MISSING: "Missing Item",
    AfterSalesKind.QUESTION: "Question",
}
STATUSES = {
    AfterSalesStatus.NEW: "New",
    AfterSalesStatus.WORKING: "Working",
    AfterSalesStatus.ESCALATED: "Escalated",
    AfterSalesStatus.CLOSED: "Closed",
}
ORIGINS = {AfterSalesChannel.APP: "App", AfterSalesChannel.STORE: "Store"}
SUBJECT_LIMIT = 255
_Enum = TypeVar("_Enum", AfterSalesKind, AfterSalesStatus, AfterSalesChannel)
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def is_record_id(value: str) -> bool:
    """A well-formed Salesforce id: anything else is never sent into a URL path."""
    return _RECORD_ID.match(value) is not None


def case_body(draft: AfterSalesDraft) -> dict[str, str | None]:
    """The upsert's fields. No Status: a Case is New when created, and a retried upsert of
    one an agent has moved on must not move it back."""
    subject = TYPES[draft.kind]
    if draft.order_id:
        subject += f" - order {draft.order_id}"
    if draft.sku:
        subject += f" - {draft.sku}"
    return {
        "ContactId": draft.customer_ref.id,
        "Subject": subject[:SUBJECT_LIMIT],
        "Description": draft.description,
        "Type": TYPES[draft.kind],
        "Origin": ORIGINS[draft.channel],
        ORDER_FIELD: draft.order_id,
        SKU_FIELD: draft.sku,
    }


def cases_query(contact_ids: Sequence[str], limit: int, created_before: datetime | None) -> str:
    where = f"ContactId IN {in_list(contact_ids)}"
    if created_before is not None:
        where += f" AND CreatedDate <= {datetime_literal(created_before)}"
    return (
        f"SELECT {', '.join(FIELDS)} FROM {SOBJECT} WHERE {where}"
        f" ORDER BY CreatedDate DESC, CaseNumber DESC LIMIT {limit}"
    )


def after_sales_record(record: Any) -> AfterSalesRecord | None:
    """The request a Case record describes, or None if it is not a usable Case."""
    if not isinstance(record, dict) or not isinstance(record.get("Id"), str):
        return None
    created = parse_datetime(record.get("CreatedDate"))
    if created is None:
        return None
    contact = _text(record.get("ContactId"))
    return AfterSalesRecord(
        ref=ExternalRef(System.SALESFORCE, record["Id"]),
        number=_text(record.get("CaseNumber")),
        customer_ref=None if contact is None else ExternalRef(System.SALESFORCE, contact),
        kind=_reverse(TYPES, record.get("Type")),
        status=_reverse(STATUSES, record.get("Status")) or AfterSalesStatus.UNKNOWN,
        description=_text(record.get("Description")),
        channel=_reverse(ORIGINS, record.get("Origin")),
        order_id=_text(record.get(ORDER_FIELD)),
        sku=_text(record.get(SKU_FIELD)),
        created_at=created,
        updated_at=parse_datetime(record.get("LastModifiedDate")),
        closed_at=parse_datetime(record.get("ClosedDate")),
        key=_text(record.get(KEY_FIELD)),
    )


def _reverse(mapping: dict[_Enum, str], value: object) -> _Enum | None:
    return next((key for key, name in mapping.items() if name == value), None)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
