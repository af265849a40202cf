"""What every simulated sObject shares: field types, JSON values and the field lookup.

Field names are case-insensitive on input and answered with their canonical API name, as
Salesforce does; an unknown name is Salesforce's INVALID_FIELD with its own wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sandbox.salesforce.envelope import SalesforceApiError


class FieldType(Enum):
    ID = "id"  # Id and lookups: 15 or 18 case-sensitive characters
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


Value = str | bool | datetime | None


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    # the row type is the sObject's own (CrmContact, CaseRow): a field reads only its rows
    read: Callable[[Any], Value]


def lookup(fields: dict[str, Field], sobject: str, name: str) -> Field:
    """The field of `sobject` called `name` (any case), or Salesforce's INVALID_FIELD."""
    found = fields.get(name.lower())
    if found is None:
        raise SalesforceApiError(
            400,
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )
    return found


def format_datetime(value: datetime) -> str:
    """Salesforce's JSON dateTime: `2024-09-18T07:40:00.000+0000`, always in UTC."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def render_row(
    sobject: str, record_id: str, row: Any, fields: list[Field], version: str
) -> dict[str, Any]:
    """A record as the REST API answers it: `attributes` first, then the fields asked for."""
    record: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/{version}/sobjects/{sobject}/{record_id}",
        }
    }
    for selected in fields:
        value = selected.read(row)
        record[selected.name] = format_datetime(value) if isinstance(value, datetime) else value
    return record
