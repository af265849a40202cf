"""Whether the org's Case is set up as after-sales requests need (docs/vendors/salesforce.md),
read from Case's describe for the run-as user: what is missing, in an operator's words.

Without this, a request the org cannot take shows only when a customer sends one
(INVALID_FIELD, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, INVALID_FIELD_FOR_INSERT_UPDATE).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connectors.salesforce.cases import (
    FIELDS,
    KEY_FIELD,
    ORDER_FIELD,
    ORIGINS,
    SKU_FIELD,
    STATUSES,
    TYPES,
)

# what the upsert sets (cases.case_body), the key it upserts by, and Status (staff move it)
UPSERTED = ("ContactId", "Subject", "Description", "Type", "Origin", ORDER_FIELD, SKU_FIELD)
WRITTEN = (*UPSERTED, KEY_FIELD, "Status")
PICKLIST_VALUES = {
    "Type": tuple(TYPES.values()),
    "Status": tuple(STATUSES.values()),
    "Origin": tuple(ORIGINS.values()),
}


def case_setup_problems(describe: Mapping[str, Any]) -> list[str]:
    """Everything Case's describe shows missing; empty when requests can be kept."""
    return list(_problems(describe))


def _problems(describe: Mapping[str, Any]) -> Iterator[str]:
    for access in ("queryable", "createable", "updateable"):
        if describe.get(access) is not True:
            yield f"Case is not {access} by the run-as user"
    fields = {
        field["name"]: field
        for field in describe.get("fields") or ()
        if isinstance(field, Mapping) and isinstance(field.get("name"), str)
    }
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        yield "Case has no field " + ", ".join(missing) + " (or the run-as user cannot read it)"
    for name in WRITTEN:
        field = fields.get(name)
        if field is None:
            continue
        unset = [a for a in ("createable", "updateable") if field.get(a) is not True]
        if unset:
            yield f"{name} is not {' or '.join(unset)} by the run-as user"
    key = fields.get(KEY_FIELD)
    if key is not None and not (key.get("externalId") is True and key.get("unique") is True):
        yield f"{KEY_FIELD} is not marked External ID and Unique"
    for name, needed in PICKLIST_VALUES.items():
        field = fields.get(name)
        if field is None or field.get("restrictedPicklist") is not True:
            continue  # an unrestricted picklist takes any value
        active = {
            value.get("value")
            for value in field.get("picklistValues") or ()
            if isinstance(value, Mapping) and value.get("active") is True
        }
        absent = [value for value in needed if value not in active]
        if absent:
            yield f"{name}'s picklist lacks " + ", ".join(repr(v) for v in absent)
