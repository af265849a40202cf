"""Principals and how a request proves who it is (docs/security.md "Principals")."""

from commerce.access import (
    CustomerAccess,
    customer_read_access,
    handoff_requester,
    signed_in_customer,
)
from commerce.audit import AuditLog, CustomerRead
from commerce.principal import ANONYMOUS, Principal, PrincipalKind
from gateway.auth.authenticator import Authenticator, Credentials, build_authenticator
from gateway.auth.errors import (
    AuthRefusal,
    Forbidden,
    IdentityUnavailable,
    InvalidCredentials,
    NotFound,
    Unauthenticated,
)
from gateway.auth.handoff import Handoff, KioskHandoffs

__all__ = [
    "ANONYMOUS",
    "AuditLog",
    "AuthRefusal",
    "Authenticator",
    "Credentials",
    "CustomerAccess",
    "CustomerRead",
    "Forbidden",
    "Handoff",
    "IdentityUnavailable",
    "InvalidCredentials",
    "KioskHandoffs",
    "NotFound",
    "Principal",
    "PrincipalKind",
    "Unauthenticated",
    "build_authenticator",
    "customer_read_access",
    "handoff_requester",
    "signed_in_customer",
]
