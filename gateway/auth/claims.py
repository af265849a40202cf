"""From a verified token's claims to a principal (the claims are documented in
docs/security.md "Principals").

Every token names its `role`; `sub` is the CRM contact id of a customer, the staff id of a
staff member, the device id of a kiosk or display, the developer's id; staff, kiosk and
display tokens carry the `store_id` they are scoped to (a developer's is ignored: it is
scoped to no store). A token that does not say all its kind needs proves nothing and is
refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commerce.principal import Principal, PrincipalKind
from gateway.auth.errors import InvalidCredentials

ROLE_CLAIM = "role"
STORE_CLAIM = "store_id"
ROLES = {
    "customer": PrincipalKind.CUSTOMER,
    "staff": PrincipalKind.STAFF,
    "kiosk": PrincipalKind.KIOSK,
    "display": PrincipalKind.DISPLAY,
    "developer": PrincipalKind.DEVELOPER,
}
# the kinds a token scopes to one store
STORE_SCOPED = frozenset({PrincipalKind.STAFF, PrincipalKind.KIOSK, PrincipalKind.DISPLAY})
# ids are short; a claim longer than this is not an id we issued or could look up
MAX_ID_LENGTH = 128
# the registered claims a token must carry before its own claims are even looked at
REQUIRED_CLAIMS = ("iss", "aud", "exp", "sub", ROLE_CLAIM)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    role = claims.get(ROLE_CLAIM)
    kind = ROLES.get(role) if isinstance(role, str) else None
    if kind is None:
        raise InvalidCredentials(f"The token's `{ROLE_CLAIM}` must be one of {', '.join(ROLES)}.")
    subject = _identifier(claims, "sub")
    store_id = None
    if kind in STORE_SCOPED:
        store_id = _identifier(claims, STORE_CLAIM)
    return Principal(kind=kind, subject=subject, store_id=store_id, expires_at=float(claims["exp"]))


def _identifier(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidCredentials(f"The token's `{name}` must be a non-empty id.")
    return value
