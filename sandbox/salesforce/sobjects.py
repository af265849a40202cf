"""sObject Basic Information, sObject Rows and sObject Rows by External ID, for Case.

    POST  /services/data/vXX.X/sobjects/Case                 create: 201 {id, success, errors}
    GET   /services/data/vXX.X/sobjects/Case/{id}[?fields=]  the record, with `attributes`
    PATCH /services/data/vXX.X/sobjects/Case/{id}            update: 204, no body
    GET   /services/data/vXX.X/sobjects/Case/{field}/{value} the record by external id
    PATCH /services/data/vXX.X/sobjects/Case/{field}/{value} upsert by external id

Upsert, as the REST API guide's "Insert or Update (Upsert) a Record Using an External ID"
says: an unmatched value creates the record (201, `created: true` from API 46.0 on), a
matched one updates it with the body's fields (200 with `created: false` from 46.0 on, 204
before). `{field}` must be the object's external-id field, else 404 NOT_FOUND. Bodies are
checked field by field (sandbox.salesforce.cases) and refused whole with the first error.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.salesforce import cases
from sandbox.salesforce.cases import CaseRow, CaseTable
from sandbox.salesforce.contacts import ContactTable
from sandbox.salesforce.envelope import SalesforceApiError, not_found
from sandbox.salesforce.fields import Field
from sandbox.salesforce.sessions import SessionStore

# "created" in the upsert answer, and 200 rather than 204 for an update, from this version on
UPSERT_CREATED_FLAG_VERSION = 46


async def create(request: Request, version: str) -> Response:
    table = _table(request)
    values = await _body(request)
    row = table.create(values, _now(request))
    return JSONResponse({"id": row.id, "success": True, "errors": []}, status_code=201)


async def read(request: Request, version: str) -> dict[str, Any]:
    row = _table(request).get(request.path_params["id"])
    if row is None:
        raise not_found()
    return cases.render(row, _fields(request), version)


async def update(request: Request, version: str) -> Response:
    table = _table(request)
    row = table.get(request.path_params["id"])
    if row is None:
        raise not_found()
    values = await _body(request)
    if cases.EXTERNAL_ID in values and _taken(table, values[cases.EXTERNAL_ID], row):
        raise _duplicate()
    table.update(row, values, _now(request))
    return Response(status_code=204)


async def read_by_key(request: Request, version: str) -> dict[str, Any]:
    row = _table(request).by_key(_key(request))
    if row is None:
        raise not_found()
    return cases.render(row, _fields(request), version)


async def upsert(request: Request, version: str) -> Response:
    table = _table(request)
    key = _key(request)
    values = await _body(request)
    given = values.pop(cases.EXTERNAL_ID, key)
    if given is not None and given.lower() != key.lower():
        raise SalesforceApiError(
            400,
            "INVALID_FIELD",
            f"The value of {cases.EXTERNAL_ID} in the body differs from the one in the URL",
            [cases.EXTERNAL_ID],
        )
    flagged = int(version[1:].split(".")[0]) >= UPSERT_CREATED_FLAG_VERSION
    existing = table.by_key(key)
    if existing is None:
        row = table.create({**values, cases.EXTERNAL_ID: key}, _now(request))
        answer: dict[str, Any] = {"id": row.id, "success": True, "errors": []}
        if flagged:
            answer["created"] = True
        return JSONResponse(answer, status_code=201)
    table.update(existing, values, _now(request))
    if not flagged:
        return Response(status_code=204)
    return JSONResponse({"id": existing.id, "success": True, "errors": [], "created": False})


def _table(request: Request) -> CaseTable:
    if request.path_params["sobject"].lower() != cases.SOBJECT.lower():
        raise not_found()
    table: CaseTable = request.app.state.salesforce_cases
    return table


def _key(request: Request) -> str:
    name = request.path_params["field"]
    if name.lower() != cases.EXTERNAL_ID.lower():
        raise SalesforceApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {name}",
        )
    return str(request.path_params["value"])


async def _body(request: Request) -> dict[str, str | None]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc
    contacts: ContactTable = request.app.state.salesforce_contacts
    return cases.checked(body, contact_exists=lambda i: contacts.get(i) is not None)


def _fields(request: Request) -> list[Field]:
    raw = request.query_params.get("fields")
    if raw is None:
        return list(cases.FIELDS.values())
    return [cases.field(name.strip()) for name in raw.split(",") if name.strip()]


def _taken(table: CaseTable, key: str | None, row: CaseRow) -> bool:
    other = None if key is None else table.by_key(key)
    return other is not None and other is not row


def _duplicate() -> SalesforceApiError:
    return SalesforceApiError(
        400,
        "DUPLICATE_VALUE",
        f"duplicate value found: {cases.EXTERNAL_ID} duplicates value on another record",
        [cases.EXTERNAL_ID],
    )


def _now(request: Request) -> datetime:
    sessions: SessionStore = request.app.state.salesforce_gate.sessions
    return sessions.clock()
