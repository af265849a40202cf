"""Salesforce's check: the client credentials grant, then the Contact fields the adapter
reads, one record at most (SOQL `LIMIT 1`): the token, the run-as user's API access and
its read access to Contact and each field, all at once. Then Case's describe: whether the
org can keep after-sales requests (connectors/salesforce/case_setup.py). Reads only."""

from __future__ import annotations

from connectors.check import CheckFailed, call_failed
from connectors.errors import UpstreamError
from connectors.http import UpstreamHttp
from connectors.salesforce.case_setup import case_setup_problems
from connectors.salesforce.contacts import FIELDS, SELECT, SOBJECT
from connectors.salesforce.rest import SalesforceRest
from connectors.salesforce.session import TOKEN_OPERATION
from connectors.salesforce.settings import SalesforceSettings

CREDENTIALS = ("client_id", "client_secret")
CASE_PERMISSIONS = "Read, Create and Edit on Case and its fields"
PERMISSIONS = (
    f"the run-as user's API Enabled permission and read access to {SOBJECT} and its fields "
    + ", ".join(FIELDS)
)


async def check_salesforce(http: UpstreamHttp, settings: SalesforceSettings) -> str:
    rest = SalesforceRest(http, settings)
    try:
        await rest.query("salesforce.check", f"{SELECT} LIMIT 1")
    except UpstreamError as error:
        token = error.operation == TOKEN_OPERATION
        if token and error.status in (400, 401):
            # invalid_client (id or secret), invalid_grant (no run-as user, or the flow off)
            raise CheckFailed(
                f"the client credentials grant was refused ({error.detail})", CREDENTIALS
            ) from error
        if token and error.status == 404:
            raise CheckFailed(
                f"no OAuth token endpoint here ({error.detail}): the org's My Domain URL?",
                ("login_url",),
            ) from error
        if error.status == 404:
            raise CheckFailed(
                f"the org does not serve REST API {settings.api_version} ({error.detail})",
                ("api_version",),
            ) from error
        if error.status == 400:
            # INVALID_FIELD, INVALID_TYPE: a field or the object hidden from the run-as user
            raise CheckFailed(
                f"the run-as user cannot read what omnigate reads ({error.detail}); it needs "
                + PERMISSIONS
            ) from error
        raise call_failed(
            error,
            url_field="login_url",
            credentials=CREDENTIALS,
            permissions=PERMISSIONS,
        ) from error
    await _check_cases(rest)
    return (
        f"token granted, {SOBJECT} readable with the {len(FIELDS)} fields omnigate reads, "
        "Case set up for after-sales requests"
    )


async def _check_cases(rest: SalesforceRest) -> None:
    try:
        describe = await rest.get("salesforce.check", rest.resource("sobjects/Case/describe"))
    except UpstreamError as error:
        if error.status == 404:
            # the object hidden from the run-as user reads as absent
            raise CheckFailed(
                f"the run-as user cannot see Case ({error.detail}); it needs " + CASE_PERMISSIONS
            ) from error
        raise call_failed(
            error, url_field="login_url", credentials=CREDENTIALS, permissions=CASE_PERMISSIONS
        ) from error
    problems = case_setup_problems(describe if isinstance(describe, dict) else {})
    if problems:
        raise CheckFailed(
            "Case is not set up for after-sales requests (docs/vendors/salesforce.md): "
            + "; ".join(problems)
        )
