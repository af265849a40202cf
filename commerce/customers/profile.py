"""The merged customer profile, its MongoDB form, and how fresh one read of it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from connectors.records import ExternalRef, System

# Loyalty tiers by lifetime points, lowest first. Square Loyalty has balances but no tiers,
# so the gateway derives the tier; the offers engine may later make this configurable.
LOYALTY_TIERS: tuple[tuple[int, str], ...] = ((0, "BRONZE"), (1_000, "SILVER"), (5_000, "GOLD"))


def loyalty_tier(lifetime_points: int) -> str:
    tier = LOYALTY_TIERS[0][1]
    for threshold, name in LOYALTY_TIERS:
        if lifetime_points >= threshold:
            tier = name
    return tier


@dataclass(frozen=True, slots=True)
class Loyalty:
    account: ExternalRef
    balance: int
    lifetime_points: int

    @property
    def tier(self) -> str:
        return loyalty_tier(self.lifetime_points)


class IdentityField(Enum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"


@dataclass(frozen=True, slots=True)
class IdentityConflict:
    """Several CRM contacts claim one normalised email or phone. Surfaced, never merged: the
    other contacts' data stays out of the profile until the CRM resolves the duplicate."""

    field: IdentityField
    value: str
    contact_ids: tuple[str, ...]  # every contact claiming it, this profile's own included


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """What one system contributed: its records' ids, the newest change time it reports for
    them (its version), and when the gateway read them."""

    system: System
    ids: tuple[str, ...]
    updated_at: datetime | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    id: str
    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None
    email_opt_in: bool | None
    external_refs: tuple[ExternalRef, ...]
    loyalty: Loyalty | None
    identity_conflicts: tuple[IdentityConflict, ...] = ()
    sources: tuple[SourceVersion, ...] = ()

    def refs_in(self, system: System) -> tuple[str, ...]:
        return tuple(ref.id for ref in self.external_refs if ref.system == system)

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
            "phone": self.phone,
            "email_opt_in": self.email_opt_in,
            "external_refs": [_ref_document(r) for r in self.external_refs],
            "loyalty": None
            if self.loyalty is None
            else {
                "account": _ref_document(self.loyalty.account),
                "balance": self.loyalty.balance,
                "lifetime_points": self.loyalty.lifetime_points,
            },
            "identity_conflicts": [
                {"field": c.field.value, "value": c.value, "contact_ids": list(c.contact_ids)}
                for c in self.identity_conflicts
            ],
            "sources": [
                {
                    "system": s.system.value,
                    "ids": list(s.ids),
                    "updated_at": s.updated_at,
                    "fetched_at": s.fetched_at,
                }
                for s in self.sources
            ],
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CustomerProfile:
        loyalty = doc.get("loyalty")
        return cls(
            id=doc["id"],
            given_name=doc.get("given_name"),
            family_name=doc.get("family_name"),
            email=doc.get("email"),
            phone=doc.get("phone"),
            email_opt_in=doc.get("email_opt_in"),
            external_refs=tuple(_ref(r) for r in doc.get("external_refs", [])),
            loyalty=None
            if loyalty is None
            else Loyalty(_ref(loyalty["account"]), loyalty["balance"], loyalty["lifetime_points"]),
            identity_conflicts=tuple(
                IdentityConflict(IdentityField(c["field"]), c["value"], tuple(c["contact_ids"]))
                for c in doc.get("identity_conflicts", [])
            ),
            sources=tuple(
                SourceVersion(
                    System(s["system"]), tuple(s["ids"]), s["updated_at"], s["fetched_at"]
                )
                for s in doc.get("sources", [])
            ),
        )


def _ref_document(ref: ExternalRef) -> dict[str, str]:
    return {"system": ref.system.value, "id": ref.id}


def _ref(doc: dict[str, str]) -> ExternalRef:
    return ExternalRef(System(doc["system"]), doc["id"])


class Freshness(Enum):
    """How one read of a profile relates to what the upstreams say now."""

    FRESH = "FRESH"  # read from the upstreams now, or a cached copy within its soft TTL
    REVALIDATING = "REVALIDATING"  # a copy past its soft TTL; a refresh runs in the background
    STALE = "STALE"  # a copy served because the upstreams failed to give a newer one


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """The upstream whose failure made a read fall back to a cached copy."""

    service: str
    code: str


@dataclass(frozen=True, slots=True)
class ProfileRead:
    """A profile and what the client must be told about it (commerce/customers/profiles.py)."""

    profile: CustomerProfile
    from_cache: bool
    fetched_at: datetime  # when the upstreams were read for this copy
    freshness: Freshness = Freshness.FRESH
    failure: SourceFailure | None = None  # set when STALE
    cache_available: bool = True  # False: MongoDB failed, the upstreams were read directly

    def age_seconds(self, now: datetime) -> int:
        return max(0, int((now - self.fetched_at).total_seconds()))
