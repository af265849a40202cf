"""The Case sObject as the simulator's org holds it: fields, picklists and the auto-number.

Salesforce's standard Case, plus the custom fields omnigate's org setup adds: the
external-id field it upserts by (`Omnigate_Request_Key__c`: Text(255), External ID,
Unique) and the order and product a request is about (`Omnigate_Order_Id__c`: Text(255),
`Omnigate_SKU__c`: Text(64)). The org is set up as
docs/vendors/salesforce.md asks: Status and Type are restricted picklists (a value outside
them is INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST), Origin, Reason and Priority are not.
Status defaults to New and Priority to Medium, as in a new org; a Status whose value is
closed (Closed) sets IsClosed and ClosedDate, and reopening clears them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.dataset import salesforce_id
from sandbox.salesforce.envelope import SalesforceApiError
from sandbox.salesforce.fields import Field, FieldType, Value, lookup, render_row

SOBJECT = "Case"
EXTERNAL_ID = "Omnigate_Request_Key__c"
ORDER_ID = "Omnigate_Order_Id__c"
SKU = "Omnigate_SKU__c"
STATUSES = ("New", "Working", "Escalated", "Closed")
CLOSED_STATUSES = frozenset({"Closed"})
TYPES = ("Damaged Item", "Missing Item", "Question")
# Salesforce's default display format for CaseNumber is {00000000}, starting at 1.
FIRST_CASE_NUMBER = 1001
ContactExists = Callable[[str], bool]


@dataclass(slots=True)
class CaseRow:
    id: str
    case_number: str
    created_date: datetime
    last_modified_date: datetime
    values: dict[str, str | None]  # the writable fields by canonical name
    closed_date: datetime | None = None

    @property
    def is_closed(self) -> bool:
        return self.values.get("Status") in CLOSED_STATUSES


def _value(name: str) -> Field:
    return Field(name, FieldType.STRING, lambda row: row.values.get(name))


FIELDS: dict[str, Field] = {
    field.name.lower(): field
    for field in (
        Field("Id", FieldType.ID, lambda row: row.id),
        Field("CaseNumber", FieldType.STRING, lambda row: row.case_number),
        Field("ContactId", FieldType.ID, lambda row: row.values.get("ContactId")),
        _value("Subject"),
        _value("Description"),
        _value("Status"),
        _value("Origin"),
        _value("Type"),
        _value("Reason"),
        _value("Priority"),
        _value(EXTERNAL_ID),
        _value(ORDER_ID),
        _value(SKU),
        Field("IsClosed", FieldType.BOOLEAN, lambda row: row.is_closed),
        Field("CreatedDate", FieldType.DATETIME, lambda row: row.created_date),
        Field("LastModifiedDate", FieldType.DATETIME, lambda row: row.last_modified_date),
        Field("ClosedDate", FieldType.DATETIME, lambda row: row.closed_date),
    )
}
# What the API may set, with its length; the rest are the system's (Id, CaseNumber, ...).
WRITABLE: dict[str, int] = {
    "ContactId": 18,
    "Subject": 255,
    "Description": 32_000,
    "Status": 255,
    "Origin": 255,
    "Type": 255,
    "Reason": 255,
    "Priority": 255,
    EXTERNAL_ID: 255,
    ORDER_ID: 255,
    SKU: 64,
}
RESTRICTED: dict[str, tuple[str, ...]] = {"Status": STATUSES, "Type": TYPES}
DEFAULTS = {"Status": "New", "Priority": "Medium"}


def field(name: str) -> Field:
    return lookup(FIELDS, SOBJECT, name)


def render(row: CaseRow, fields: list[Field], version: str) -> dict[str, Any]:
    return render_row(SOBJECT, row.id, row, fields, version)


def checked(body: object, *, contact_exists: ContactExists) -> dict[str, str | None]:
    """The body of a create or update as canonical field names, or Salesforce's error for
    the first thing wrong with it; `contact_exists(id)` says whether a ContactId is real."""
    if not isinstance(body, dict):
        raise SalesforceApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of Case from a non-object"
        )
    values: dict[str, str | None] = {}
    for name, value in body.items():
        if name.lower() not in FIELDS:
            raise SalesforceApiError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {SOBJECT}"
            )
        canonical = FIELDS[name.lower()].name
        if canonical not in WRITABLE:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {canonical}. Please check the security "
                "settings of this field and verify that it is read/write for your profile "
                "or permission set.",
                [canonical],
            )
        if value is not None and not isinstance(value, str):
            raise SalesforceApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of string from {type(value).__name__} value "
                f"{value!r} at [line:1] for field {canonical}",
            )
        values[canonical] = value
    for name, value in values.items():
        _check_value(name, value, contact_exists)
    return values


def _check_value(name: str, value: str | None, contact_exists: ContactExists) -> None:
    if value is None:
        if name in RESTRICTED:
            raise _bad_picklist(name, value)
        return
    if len(value) > WRITABLE[name]:
        raise SalesforceApiError(
            400,
            "STRING_TOO_LONG",
            f"{name}: data value too large: {value[:40]} (max length={WRITABLE[name]})",
            [name],
        )
    if name in RESTRICTED and value not in RESTRICTED[name]:
        raise _bad_picklist(name, value)
    if name == "ContactId":
        if len(value) not in (15, 18) or not value.isalnum():
            raise SalesforceApiError(
                400, "MALFORMED_ID", f"Contact ID: id value of incorrect type: {value}", [name]
            )
        if not value.startswith("003") or not contact_exists(value):
            raise SalesforceApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"Contact ID: id value of incorrect type: {value}",
                [name],
            )


def _bad_picklist(name: str, value: str | None) -> SalesforceApiError:
    return SalesforceApiError(
        400,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{name}: bad value for restricted picklist field: {value}",
        [name],
    )


class CaseTable:
    """The org's Cases, oldest first, by 18- or 15-character id and by external id."""

    def __init__(self, org_seed: str) -> None:
        self.rows: list[CaseRow] = []
        self._ids = random.Random(f"salesforce-cases-{org_seed}")
        self._next_number = FIRST_CASE_NUMBER

    def get(self, record_id: str) -> CaseRow | None:
        if len(record_id) not in (15, 18):
            return None
        return next((r for r in self.rows if r.id[: len(record_id)] == record_id), None)

    def by_key(self, key: str) -> CaseRow | None:
        # the external id is unique and, as Salesforce compares Text ids, case-insensitive
        return next(
            (r for r in self.rows if (r.values.get(EXTERNAL_ID) or "").lower() == key.lower()),
            None,
        )

    def create(self, values: Mapping[str, str | None], at: datetime) -> CaseRow:
        stamp = at.replace(microsecond=0)
        row = CaseRow(
            id=salesforce_id("500", self._ids),
            case_number=f"{self._next_number:08d}",
            created_date=stamp,
            last_modified_date=stamp,
            values={**DEFAULTS, **{k: v for k, v in values.items() if v is not None}},
        )
        self._next_number += 1
        row.closed_date = stamp if row.is_closed else None
        self.rows.append(row)
        return row

    def update(self, row: CaseRow, values: Mapping[str, Value], at: datetime) -> None:
        was_closed = row.is_closed
        for name, value in values.items():
            row.values[name] = value if isinstance(value, str) else None
        row.last_modified_date = at.replace(microsecond=0)
        if row.is_closed and not was_closed:
            row.closed_date = row.last_modified_date
        elif not row.is_closed:
            row.closed_date = None
