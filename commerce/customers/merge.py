"""Which source wins each field of the merged profile: docs/customer-profile.md's
precedence table, in code. Pure functions over what the upstreams answered.

| field                          | rule                                                       |
|--------------------------------|------------------------------------------------------------|
| id                             | the CRM contact id (the CRM is the system of record)       |
| given name, family name        | CRM; only a name the CRM lacks comes from the newest other  |
|                                | source that has one                                        |
| email, phone                   | the newest source (its record's updated_at) that has one;  |
|                                | a tie goes to the CRM, then the POS, then the e-commerce   |
| email opt-in (consent)         | CRM only; never inferred from another system               |
| loyalty balance, points, tier  | the POS loyalty account with the most lifetime points of   |
|                                | the matched POS customers; the tier from lifetime points   |
| external refs                  | the CRM contact and every matched POS and e-commerce       |
|                                | customer                                                   |
| identity conflicts             | other CRM contacts with the same normalised email or phone:|
|                                | listed, their data and ids never merged in                 |

A POS or e-commerce customer matches when its normalised email or E.164 phone equals the
CRM contact's (commerce/customers/identity.py); directory searches can be fuzzy, so only exact
matches on the normalised forms are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from commerce.customers.identity import normalise_email, normalise_phone
from commerce.customers.profile import (
    CustomerProfile,
    IdentityConflict,
    IdentityField,
    Loyalty,
    SourceVersion,
)
from connectors.records import CustomerIdentity, LoyaltyAccountRecord, System

# Who wins a tie on updated_at (and who is asked first for a name): lower is stronger. The
# CRM ranks first whichever vendor it is (one CRM serves a gateway).
SOURCE_RANK = {System.SALESFORCE: 0, System.HUBSPOT: 0, System.SQUARE: 1, System.SHOPIFY: 2}


@dataclass(frozen=True, slots=True)
class ProfileSources:
    """Everything one assembly read: the contact, the records matched to it, and when."""

    contact: CustomerIdentity
    pos_customers: Sequence[CustomerIdentity]
    shop_customers: Sequence[CustomerIdentity]
    loyalty_accounts: Sequence[LoyaltyAccountRecord]
    # every CRM contact found by the contact's email or phone (itself included or not)
    crm_matches: Sequence[CustomerIdentity]
    fetched_at: dict[System, datetime]


def same_person(
    found: Sequence[CustomerIdentity], email: str | None, phone: str | None
) -> list[CustomerIdentity]:
    return [
        identity
        for identity in found
        if (email is not None and normalise_email(identity.email) == email)
        or (phone is not None and normalise_phone(identity.phone) == phone)
    ]


def merge_profile(sources: ProfileSources) -> CustomerProfile:
    contact = sources.contact
    email = normalise_email(contact.email)
    phone = normalise_phone(contact.phone)
    pos = same_person(sources.pos_customers, email, phone)
    shop = same_person(sources.shop_customers, email, phone)
    others = (*pos, *shop)
    everyone = (contact, *others)
    pos_ids = {c.ref.id for c in pos}
    accounts = [a for a in sources.loyalty_accounts if a.customer_ref.id in pos_ids]
    return CustomerProfile(
        id=contact.ref.id,
        given_name=contact.given_name or _newest(others, lambda c: c.given_name),
        family_name=contact.family_name or _newest(others, lambda c: c.family_name),
        email=_newest(everyone, lambda c: normalise_email(c.email)),
        phone=_newest(everyone, lambda c: normalise_phone(c.phone)),
        email_opt_in=contact.email_opt_in,
        external_refs=tuple(dict.fromkeys(c.ref for c in everyone)),
        loyalty=main_account(accounts),
        identity_conflicts=identity_conflicts(contact, sources.crm_matches),
        sources=_versions(contact, pos, shop, sources.fetched_at),
    )


def _newest(
    identities: Sequence[CustomerIdentity], value: Callable[[CustomerIdentity], str | None]
) -> str | None:
    """`value` of the most recently updated identity that has one."""
    candidates = [(identity, value(identity)) for identity in identities]
    having = [(identity, found) for identity, found in candidates if found]
    if not having:
        return None
    _, winner = max(having, key=lambda pair: _recency(pair[0]))
    return winner


def _recency(identity: CustomerIdentity) -> tuple[bool, datetime | None, int]:
    # Unknown change times lose to known ones; equal times go to the stronger source.
    return (
        identity.updated_at is not None,
        identity.updated_at,
        -SOURCE_RANK[identity.ref.system],
    )


def main_account(accounts: Sequence[LoyaltyAccountRecord]) -> Loyalty | None:
    if not accounts:
        return None
    best = max(accounts, key=lambda account: (account.lifetime_points, account.ref.id))
    return Loyalty(best.ref, best.balance, best.lifetime_points)


def identity_conflicts(
    contact: CustomerIdentity, crm_matches: Sequence[CustomerIdentity]
) -> tuple[IdentityConflict, ...]:
    """One conflict per email or phone of the contact that other CRM contacts claim too."""
    others = [c for c in crm_matches if c.ref != contact.ref]
    conflicts = []
    keys: tuple[tuple[IdentityField, Callable[[str | None], str | None], str | None], ...] = (
        (IdentityField.EMAIL, normalise_email, contact.email),
        (IdentityField.PHONE, normalise_phone, contact.phone),
    )
    for field, normalise, raw in keys:
        value = normalise(raw)
        if value is None:
            continue
        claimants = sorted({o.ref.id for o in others if normalise(_raw(o, field)) == value})
        if claimants:
            conflicts.append(
                IdentityConflict(field, value, tuple(sorted({contact.ref.id, *claimants})))
            )
    return tuple(conflicts)


def _raw(identity: CustomerIdentity, field: IdentityField) -> str | None:
    return identity.email if field is IdentityField.EMAIL else identity.phone


def _versions(
    contact: CustomerIdentity,
    pos: Sequence[CustomerIdentity],
    shop: Sequence[CustomerIdentity],
    fetched_at: dict[System, datetime],
) -> tuple[SourceVersion, ...]:
    versions = []
    for system, identities in (
        (contact.ref.system, (contact,)),
        (System.SQUARE, tuple(pos)),
        (System.SHOPIFY, tuple(shop)),
    ):
        if system not in fetched_at:
            continue
        times = [i.updated_at for i in identities if i.updated_at is not None]
        versions.append(
            SourceVersion(
                system=system,
                ids=tuple(i.ref.id for i in identities),
                updated_at=max(times) if times else None,
                fetched_at=fetched_at[system],
            )
        )
    return tuple(versions)
