"""The Contact sObject as the simulator serves it: field names, types and JSON values.

Values come from `sandbox.dataset.CrmContact` exactly as stored (stray spaces, capitals and
national-format phones included). Field names are case-insensitive on input and answered
with their canonical API name, as Salesforce does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sandbox.dataset import CrmContact, Dataset
from sandbox.salesforce.fields import Field, FieldType, Value, lookup, render_row

SOBJECT = "Contact"


FIELDS: dict[str, Field] = {
    field.name.lower(): field
    for field in (
        Field("Id", FieldType.ID, lambda c: c.id),
        Field("FirstName", FieldType.STRING, lambda c: c.first_name),
        Field("LastName", FieldType.STRING, lambda c: c.last_name),
        Field("Email", FieldType.STRING, lambda c: c.email),
        Field("Phone", FieldType.STRING, lambda c: c.phone),
        Field("MobilePhone", FieldType.STRING, lambda c: c.mobile_phone),
        Field("HasOptedOutOfEmail", FieldType.BOOLEAN, lambda c: c.has_opted_out_of_email),
        Field("AccountId", FieldType.ID, lambda c: c.account_id),
        Field("CreatedDate", FieldType.DATETIME, lambda c: c.created_date),
        Field("LastModifiedDate", FieldType.DATETIME, lambda c: c.last_modified_date),
    )
}


# The fields a user can edit, and the CrmContact attribute each is kept in.
UPDATABLE = {
    "FirstName": "first_name",
    "LastName": "last_name",
    "Email": "email",
    "Phone": "phone",
    "MobilePhone": "mobile_phone",
    "HasOptedOutOfEmail": "has_opted_out_of_email",
}


def field(name: str) -> Field:
    """The Contact field called `name` (any case), or Salesforce's INVALID_FIELD."""
    return lookup(FIELDS, SOBJECT, name)


def render(contact: CrmContact, fields: list[Field], version: str) -> dict[str, Any]:
    return render_row(SOBJECT, contact.id, contact, fields, version)


class ContactTable:
    """The org's Contacts in a stable order, findable by 18- or 15-character id."""

    def __init__(self, dataset: Dataset) -> None:
        self.rows: list[CrmContact] = list(dataset.crm_contacts)
        self._by_id = {c.id: c for c in self.rows}
        self._by_short_id = {c.id[:15]: c for c in self.rows}

    def update(self, record_id: str, changes: Mapping[str, Value], at: datetime) -> CrmContact:
        """Apply an edit as Salesforce records one: LastModifiedDate becomes `at`, cut to the
        second as the org stores it. KeyError for an unknown id."""
        current = self.get(record_id)
        if current is None:
            raise KeyError(record_id)
        attributes: dict[str, Any] = {UPDATABLE[name]: value for name, value in changes.items()}
        updated = replace(current, **attributes, last_modified_date=at.replace(microsecond=0))
        self.rows[self.rows.index(current)] = updated
        self._by_id[updated.id] = updated
        self._by_short_id[updated.id[:15]] = updated
        return updated

    def get(self, record_id: str) -> CrmContact | None:
        if len(record_id) == 18:
            return self._by_id.get(record_id)
        if len(record_id) == 15:
            return self._by_short_id.get(record_id)
        return None
