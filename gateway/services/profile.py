"""The merged customer profile and its MongoDB form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
            "external_refs": [{"system": r.system.value, "id": r.id} for r in self.external_refs],
            "loyalty": None
            if self.loyalty is None
            else {
                "account": {
                    "system": self.loyalty.account.system.value,
                    "id": self.loyalty.account.id,
                },
                "balance": self.loyalty.balance,
                "lifetime_points": self.loyalty.lifetime_points,
            },
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
        )


def _ref(doc: dict[str, str]) -> ExternalRef:
    return ExternalRef(System(doc["system"]), doc["id"])


@dataclass(frozen=True, slots=True)
class ProfileRead:
    """A profile and where it came from this time (for metrics and, later, staleness)."""

    profile: CustomerProfile
    from_cache: bool
    fetched_at: datetime
