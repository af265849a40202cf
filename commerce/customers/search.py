"""Staff finding a customer on the floor: by email, by phone in whatever form it is typed,
by the loyalty card the shopper shows, or by the POS customer id on a receipt.

The CRM is the system of record, so every search ends at CRM contacts: an email or phone
is looked up there directly; a loyalty card or a POS customer id is first read from the POS,
and the POS customer's own email and phone are then looked up in the CRM. Directory
searches can be fuzzy, so only contacts whose normalised email or E.164 phone equals the
one searched are kept (the rule the profile merge uses, commerce/customers/merge.py).

In order, before anything is fetched: only staff may search (`Forbidden` otherwise), then
the staff member's search budget is spent (`SearchBudget`, a `RateLimited` refusal when it
is empty), then the search runs while its audit entry is written, exactly as a staff read of
one customer does (commerce/access.py `CustomerReadGate`): nothing is answered until the
entry is acknowledged. The entry holds the search term masked and hashed, never as typed
(commerce/audit.py `CustomerSearchRecord`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from commerce.audit import AuditLog, CustomerSearchRecord
from commerce.customers.identity import normalise_email, normalise_phone
from commerce.customers.merge import same_person
from commerce.errors import BadUserInput, Forbidden, PublicError
from commerce.principal import Principal, PrincipalKind
from connectors.ports import CrmPort, PosCustomerLookup, PosPort
from connectors.records import CustomerIdentity

# a search names a person, or a handful sharing an email or phone: never a listing
MAX_RESULTS = 20
STAFF_ONLY = "Searching customers is for store staff."


class SearchKey(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    LOYALTY_CARD = "LOYALTY_CARD"
    POS_CUSTOMER_ID = "POS_CUSTOMER_ID"


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    key: SearchKey
    value: str  # as typed


class RateLimited(PublicError):
    code = "RATE_LIMITED"


class SearchBudget(Protocol):
    """How many searches one staff member may make; the runtime's rate limiter keeps it."""

    async def spend(self, principal: Principal) -> float | None:
        """None when the search may run; else the seconds until one may."""
        ...


def normalised_term(search: CustomerSearch) -> str:
    """The form the search compares: a lower-case email, an E.164 phone, an id trimmed.
    BAD_USER_INPUT for a term that cannot be one."""
    value = search.value.strip()
    if search.key is SearchKey.EMAIL:
        email = normalise_email(value)
        if email is None:
            raise BadUserInput("`email` is not an email address.", field="search.email")
        return email
    if search.key is SearchKey.PHONE:
        phone = normalise_phone(value)
        if phone is None:
            raise BadUserInput(
                "`phone` is not a phone number: give the full number, with its country "
                "code (+44 ...) when it is not a US or Canadian one.",
                field="search.phone",
            )
        return phone
    if not value or len(value) > 128:
        field = (
            "search.loyaltyCard" if search.key is SearchKey.LOYALTY_CARD else "search.posCustomerId"
        )
        raise BadUserInput("An id of 1 to 128 characters is needed.", field=field)
    return value


class CustomerFinder:
    def __init__(
        self, *, crm: CrmPort, pos: PosPort, audit: AuditLog, budget: SearchBudget
    ) -> None:
        self._crm = crm
        self._pos = pos
        self._audit = audit
        self._budget = budget

    async def find(
        self,
        principal: Principal,
        search: CustomerSearch,
        describe: Callable[[str], CustomerSearchRecord],
    ) -> list[str]:
        """The CRM contact ids matching, at most MAX_RESULTS, sorted. `describe(term)`: what
        the audit records of this search, given the normalised term."""
        if principal.kind is not PrincipalKind.STAFF:
            raise Forbidden(STAFF_ONLY)
        term = normalised_term(search)
        wait = await self._budget.spend(principal)
        if wait is not None:
            seconds = max(1, round(wait))
            raise RateLimited(
                f"Too many customer searches: retry in {seconds} s.", retryAfterSeconds=seconds
            )
        searching = asyncio.ensure_future(self._contact_ids(search.key, term))
        try:
            await self._audit.customer_search(principal, describe(term))
        except BaseException:
            searching.cancel()
            if searching.done() and not searching.cancelled():
                searching.exception()  # retrieved: the audit's failure is the one to raise
            raise
        return await searching

    async def _contact_ids(self, key: SearchKey, term: str) -> list[str]:
        if key is SearchKey.EMAIL:
            found = await self._contacts(emails=[term], phones=[])
        elif key is SearchKey.PHONE:
            found = await self._contacts(emails=[], phones=[term])
        else:
            found = await self._by_pos_customer(key, term)
        return sorted({contact.ref.id for contact in found})[:MAX_RESULTS]

    async def _contacts(self, emails: list[str], phones: list[str]) -> list[CustomerIdentity]:
        found = await self._crm.find_customers(emails, phones)
        email = emails[0] if emails else None
        phone = phones[0] if phones else None
        return same_person(found, email, phone)

    async def _by_pos_customer(self, key: SearchKey, term: str) -> list[CustomerIdentity]:
        pos = self._pos
        if not isinstance(pos, PosCustomerLookup):
            raise BadUserInput(
                "This point of sale cannot be searched by its own ids.", service=pos.service
            )
        customer_id = term
        if key is SearchKey.LOYALTY_CARD:
            account = await pos.loyalty_account(term)
            if account is None:
                return []
            customer_id = account.customer_ref.id
        customer = (await pos.customers_by_id([customer_id])).get(customer_id)
        if customer is None:
            return []
        return await self._matching(customer)

    async def _matching(self, customer: CustomerIdentity) -> list[CustomerIdentity]:
        """The CRM contacts that are this POS customer: the same normalised email or phone."""
        email = normalise_email(customer.email)
        phone = normalise_phone(customer.phone)
        if email is None and phone is None:
            return []  # nothing links them to a CRM contact
        found = await self._crm.find_customers([email] if email else [], [phone] if phone else [])
        return same_person(found, email, phone)


def pick_search(
    *,
    email: str | None,
    phone: str | None,
    loyalty_card: str | None,
    pos_customer_id: str | None,
) -> CustomerSearch:
    """The one key given (the GraphQL input is @oneOf, so exactly one is)."""
    given: Sequence[tuple[SearchKey, str | None]] = (
        (SearchKey.EMAIL, email),
        (SearchKey.PHONE, phone),
        (SearchKey.LOYALTY_CARD, loyalty_card),
        (SearchKey.POS_CUSTOMER_ID, pos_customer_id),
    )
    present = [(key, value) for key, value in given if value is not None]
    if len(present) != 1:
        raise BadUserInput("Search by exactly one of email, phone, loyaltyCard, posCustomerId.")
    key, value = present[0]
    assert value is not None
    return CustomerSearch(key, value)


__all__ = [
    "MAX_RESULTS",
    "CustomerFinder",
    "CustomerSearch",
    "CustomerSearchRecord",
    "RateLimited",
    "SearchBudget",
    "SearchKey",
    "normalised_term",
    "pick_search",
]
