"""The dev token endpoint: test tokens for a customer, a staff member, a kiosk or display device,
or a developer.

POST /dev/token with a JSON body:

    {"kind": "customer", "subject": "<CRM contact id>"}  Salesforce's or HubSpot's
    {"kind": "staff", "store_id": "<store id>", "subject": "<staff id>"}      subject optional
    {"kind": "kiosk", "store_id": "<store id>", "subject": "<device id>"}     subject optional
    {"kind": "display", "store_id": "<store id>", "subject": "<device id>"}   subject optional
    {"kind": "developer", "subject": "<developer id>"}                        subject optional
    optional everywhere: "expires_in" (seconds, 1 to 86400; default 3600)

answers `{"access_token", "token_type": "Bearer", "expires_in"}`, or 400 with an OAuth-style
`{"error": "invalid_request", "error_description"}`. Customers must be CRM contacts of the
dataset and stores must be stores (not the warehouse; a Square location id, or with Shopify
POS a Shopify Location gid), as a real IdP only vouches for
accounts it knows; a developer is scoped to no store, so a `store_id` is refused. The claims
are those docs/security.md "Principals" documents.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.dataset import Dataset
from sandbox.hubspot.contacts import hubspot_contacts
from sandbox.identity.keys import Clock, KeyRing
from sandbox.shopify.retail import location_gid

DEFAULT_EXPIRES_IN = 3600
MAX_EXPIRES_IN = 86400
KINDS = ("customer", "staff", "kiosk", "display", "developer")
DEFAULT_DEVELOPER = "developer-0001"


@dataclass(frozen=True, slots=True)
class Issuer:
    """What the IdP signs tokens as, and whom it knows."""

    issuer: str
    audience: str
    keys: KeyRing
    contact_ids: frozenset[str]
    store_ids: frozenset[str]
    clock: Clock

    @classmethod
    def for_dataset(
        cls, dataset: Dataset, *, issuer: str, audience: str, keys: KeyRing, clock: Clock
    ) -> Issuer:
        return cls(
            issuer=issuer,
            audience=audience,
            keys=keys,
            # the customer's id in whichever CRM the gateway reads: Salesforce's or HubSpot's
            contact_ids=frozenset(c.id for c in dataset.crm_contacts)
            | frozenset(c.id for c in hubspot_contacts(dataset)),
            # the store's id in whichever POS the gateway reads: Square's or Shopify's
            store_ids=frozenset(s.id for s in dataset.stores)
            | frozenset(
                location_gid(i) for i, s in enumerate(dataset.locations) if not s.is_warehouse
            ),
            clock=clock,
        )

    def claims(
        self, kind: str, subject: str, store_id: str | None, expires_in: int
    ) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "role": kind,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
        }
        if store_id is not None:
            claims["store_id"] = store_id
        return claims


class InvalidRequest(Exception):
    pass


def _token_request(body: Any, issuer: Issuer) -> tuple[str, str, str | None, int]:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    kind = body.get("kind")
    if kind not in KINDS:
        raise InvalidRequest(f"`kind` must be one of {', '.join(KINDS)}")
    expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
    if not isinstance(expires_in, int) or not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise InvalidRequest(f"`expires_in` must be whole seconds from 1 to {MAX_EXPIRES_IN}")
    subject = body.get("subject")
    if subject is not None and (not isinstance(subject, str) or not subject):
        raise InvalidRequest("`subject` must be a non-empty string")
    if kind == "customer":
        if subject not in issuer.contact_ids:
            raise InvalidRequest("`subject` must be the id of a CRM contact")
        return kind, subject, None, expires_in
    store_id = body.get("store_id")
    if kind == "developer":
        if store_id is not None:
            raise InvalidRequest("a developer is scoped to no store: leave `store_id` out")
        return kind, subject or DEFAULT_DEVELOPER, None, expires_in
    if store_id not in issuer.store_ids:
        raise InvalidRequest("`store_id` must be the id of a store")
    default_subject = f"{kind}-{store_id}"
    return kind, subject or default_subject, store_id, expires_in


async def dev_token(request: Request) -> Response:
    issuer: Issuer = request.app.state.identity_issuer
    try:
        body = json.loads(await request.body())
        kind, subject, store_id, expires_in = _token_request(body, issuer)
    except json.JSONDecodeError:
        return _refuse("the body must be JSON")
    except InvalidRequest as exc:
        return _refuse(str(exc))
    token = issuer.keys.sign(issuer.claims(kind, subject, store_id, expires_in))
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
        headers={"Cache-Control": "no-store"},
    )


def _refuse(description: str) -> Response:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description}, status_code=400
    )
