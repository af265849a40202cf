"""sObject Describe for Case: `GET /services/data/vXX.X/sobjects/Case/describe`.

The REST API answers an object's metadata for the session's user: whether it may create,
edit and query records of it, and each field with its type, length, whether the user may
set it on create and on update, whether it is an external id and unique, and a picklist's
values. `omnigate check-upstreams` reads it to tell an operator, before the first customer
does, which part of docs/vendors/salesforce.md's Case setup is missing. Only the keys
that check reads, and those a reader of the answer would look for next to them, are
answered; the real answer has many more. Case is the only object this org describes (the
simulator holds Contact read-only): another name is Salesforce's NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.salesforce import cases
from sandbox.salesforce.envelope import not_found
from sandbox.salesforce.fields import FieldType

# Case's standard picklists as a new org holds them, with the values omnigate's setup adds
# (docs/vendors/salesforce.md): Origin gains App and Store.
PICKLISTS: dict[str, tuple[str, ...]] = {
    "Status": cases.STATUSES,
    "Type": cases.TYPES,
    "Origin": ("Phone", "Email", "Web", "App", "Store"),
    "Reason": ("Installation", "Equipment Complexity", "Performance", "Breakdown", "Other"),
    "Priority": ("High", "Medium", "Low"),
}
_TYPES = {
    FieldType.ID: "id",
    FieldType.STRING: "string",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATETIME: "datetime",
}
_CUSTOM = frozenset({cases.EXTERNAL_ID, cases.ORDER_ID, cases.SKU})


async def describe(request: Request, version: str) -> dict[str, Any]:
    if request.path_params["sobject"].lower() != cases.SOBJECT.lower():
        raise not_found()
    return case_describe(version)


def case_describe(version: str) -> dict[str, Any]:
    """Case's describe as this org answers it to the run-as user."""
    return {
        "name": cases.SOBJECT,
        "label": cases.SOBJECT,
        "custom": False,
        "createable": True,
        "updateable": True,
        "queryable": True,
        "deletable": True,
        "fields": [_field(field.name, field.type) for field in cases.FIELDS.values()],
        "urls": {
            "describe": f"/services/data/{version}/sobjects/{cases.SOBJECT}/describe",
            "rowTemplate": f"/services/data/{version}/sobjects/{cases.SOBJECT}/{{ID}}",
            "sobject": f"/services/data/{version}/sobjects/{cases.SOBJECT}",
        },
    }


def _field(name: str, kind: FieldType) -> dict[str, Any]:
    writable = name in cases.WRITABLE
    values = PICKLISTS.get(name, ())
    return {
        "name": name,
        "label": name.removesuffix("__c").replace("_", " "),
        "type": _type(name, kind),
        "length": cases.WRITABLE.get(name, 18 if kind is FieldType.ID else 0),
        "createable": writable,
        "updateable": writable,
        "nillable": writable and name not in cases.RESTRICTED,
        "custom": name in _CUSTOM,
        "externalId": name == cases.EXTERNAL_ID,
        "unique": name == cases.EXTERNAL_ID,
        "autoNumber": name == "CaseNumber",
        "referenceTo": ["Contact"] if name == "ContactId" else [],
        "restrictedPicklist": name in cases.RESTRICTED,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": cases.DEFAULTS.get(name) == value,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in values
        ],
    }


def _type(name: str, kind: FieldType) -> str:
    if name in PICKLISTS:
        return "picklist"
    if name == "ContactId":
        return "reference"
    if name == "Description":
        return "textarea"
    return _TYPES[kind]
