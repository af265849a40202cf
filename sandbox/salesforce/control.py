"""Test-only control of the simulator: edit a Contact or work a Case as a user would in
Salesforce.

    POST /_sandbox/salesforce/contacts/{id}   {"FirstName": "Ana", "Phone": "+1..."}

changes the given fields (FirstName, LastName, Email, Phone, MobilePhone,
HasOptedOutOfEmail; `{}` only touches it) and sets LastModifiedDate to now, so SOQL's
`LastModifiedDate >` finds it as it finds a real edit. Answers the Contact with every
field, 404 for an unknown id, 400 for a field that cannot be edited. Under /_sandbox/:
no vendor path, never counted as an API call.

    POST /_sandbox/salesforce/cases/{id}   {"Status": "Working"}
    GET  /_sandbox/salesforce/cases

an agent working a Case: any writable field, checked as the REST API checks it (a Status
off the picklist is refused with Salesforce's error array); answers the Case with every
field. The GET lists every Case of the org, oldest first, so a test can count them.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.calls import CONTROL_PREFIX
from sandbox.salesforce import cases
from sandbox.salesforce.cases import CaseTable
from sandbox.salesforce.contacts import FIELDS, UPDATABLE, ContactTable, render
from sandbox.salesforce.envelope import LATEST_API_VERSION, SalesforceApiError
from sandbox.salesforce.fields import FieldType
from sandbox.salesforce.sessions import SessionStore


async def edit_contact(request: Request) -> Response:
    try:
        changes: Any = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not isinstance(changes, dict):
        return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
    for name, value in changes.items():
        if name not in UPDATABLE:
            return JSONResponse({"error": f"{name} cannot be edited"}, status_code=400)
        expected = bool if FIELDS[name.lower()].type is FieldType.BOOLEAN else str
        if not isinstance(value, expected) and not (value is None and expected is str):
            return JSONResponse({"error": f"{name} takes a {expected.__name__}"}, status_code=400)
    table: ContactTable = request.app.state.salesforce_contacts
    sessions: SessionStore = request.app.state.salesforce_gate.sessions
    try:
        contact = table.update(request.path_params["id"], changes, sessions.clock())
    except KeyError:
        return JSONResponse({"error": "no such contact"}, status_code=404)
    version = f"v{LATEST_API_VERSION}.0"
    return JSONResponse(render(contact, list(FIELDS.values()), version))


async def work_case(request: Request) -> Response:
    table: CaseTable = request.app.state.salesforce_cases
    row = table.get(request.path_params["id"])
    if row is None:
        return JSONResponse({"error": "no such case"}, status_code=404)
    contacts: ContactTable = request.app.state.salesforce_contacts
    try:
        changes = cases.checked(
            json.loads(await request.body() or b"{}"),
            contact_exists=lambda i: contacts.get(i) is not None,
        )
    except ValueError:
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    except SalesforceApiError as error:
        return JSONResponse([error.as_error()], status_code=error.status)
    sessions: SessionStore = request.app.state.salesforce_gate.sessions
    table.update(row, changes, sessions.clock())
    return JSONResponse(cases.render(row, list(cases.FIELDS.values()), _VERSION))


async def list_cases(request: Request) -> Response:
    table: CaseTable = request.app.state.salesforce_cases
    fields = list(cases.FIELDS.values())
    return JSONResponse([cases.render(row, fields, _VERSION) for row in table.rows])


_VERSION = f"v{LATEST_API_VERSION}.0"
control_routes = [
    Route(CONTROL_PREFIX + "salesforce/contacts/{id}", edit_contact, methods=["POST"]),
    Route(CONTROL_PREFIX + "salesforce/cases/{id}", work_case, methods=["POST"]),
    Route(CONTROL_PREFIX + "salesforce/cases", list_cases, methods=["GET"]),
]
