"""sObject Collections, GET form: many records of one type by id in a single call.

GET /services/data/vXX.X/composite/sobjects/Contact?ids=a,b&fields=Id,Email answers a JSON
array with one entry per id, in the order given, and `null` where the id is invalid, unknown
or of another object type. An invalid field name is a 400. The GET form documents no id
count cap: its bound is the URI, "approximately 800 IDs before the URL length causes the
HTTP 414 error URI too long" (enforced for every resource in sandbox.salesforce.envelope).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.salesforce.contacts import SOBJECT, ContactTable, field, render
from sandbox.salesforce.envelope import SalesforceApiError, not_found


async def retrieve(request: Request, version: str) -> list[dict[str, Any] | None]:
    if request.path_params["sobject"].lower() != SOBJECT.lower():
        raise not_found()
    ids = _listed(request, "ids")
    fields = [field(name) for name in _listed(request, "fields")]
    table: ContactTable = request.app.state.salesforce_contacts
    results: list[dict[str, Any] | None] = []
    for record_id in ids:
        contact = table.get(record_id)
        results.append(None if contact is None else render(contact, fields, version))
    return results


def _listed(request: Request, parameter: str) -> list[str]:
    raw = request.query_params.get(parameter, "")
    values = [value.strip() for value in raw.split(",") if value.strip()]
    if not values:
        raise SalesforceApiError(
            400, "MISSING_ARGUMENT", f"The '{parameter}' parameter is required.", [parameter]
        )
    return values
