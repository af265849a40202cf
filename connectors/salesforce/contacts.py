"""Contact records as omnigate's CustomerIdentity, and the lookups that find them.

The CRM stores phones as people typed them: E.164 and North American national format
("(646) 500-0000") side by side. SOQL compares strings literally (only case-insensitively),
so a lookup by an E.164 number asks for both spellings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.records import CustomerIdentity, ExternalRef, System
from connectors.salesforce.soql import MAX_ENCODED_SOQL, encoded_length, in_list, string_literal

SOBJECT = "Contact"
FIELDS = (
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "HasOptedOutOfEmail",
    "CreatedDate",
    "LastModifiedDate",
)
SELECT = f"SELECT {', '.join(FIELDS)} FROM {SOBJECT}"
_NANP = re.compile(r"^\+1(\d{3})(\d{3})(\d{4})$")


def phone_spellings(phone: str) -> list[str]:
    """The ways the CRM may store `phone`: itself and, for +1 numbers, "(AAA) EEE-NNNN"."""
    match = _NANP.match(phone)
    return [phone] if match is None else [phone, f"({match[1]}) {match[2]}-{match[3]}"]


def lookup_queries(emails: Sequence[str], phones: Sequence[str]) -> list[str]:
    """SOQL finding Contacts by any email or phone: one statement unless the URI budget forces
    more, each `Email IN (...) OR Phone IN (...) OR MobilePhone IN (...)`."""
    terms = [("email", [e]) for e in dict.fromkeys(emails)] + [
        ("phone", phone_spellings(p)) for p in dict.fromkeys(phones)
    ]
    budget = MAX_ENCODED_SOQL - encoded_length(
        f"{SELECT} WHERE Email IN () OR Phone IN () OR MobilePhone IN ()"
    )
    statements: list[str] = []
    batch: list[tuple[str, list[str]]] = []
    size = 0
    for term in terms:
        # Each literal is written once per column it is compared with (phones: two).
        cost = sum(encoded_length(string_literal(v) + ", ") for v in term[1])
        cost *= 2 if term[0] == "phone" else 1
        if batch and size + cost > budget:
            statements.append(_lookup(batch))
            batch, size = [], 0
        batch.append(term)
        size += cost
    if batch:
        statements.append(_lookup(batch))
    return statements


def _lookup(terms: list[tuple[str, list[str]]]) -> str:
    emails = [v for kind, values in terms if kind == "email" for v in values]
    phones = [v for kind, values in terms if kind == "phone" for v in values]
    clauses = []
    if emails:
        clauses.append(f"Email IN {in_list(emails)}")
    if phones:
        clauses += [f"Phone IN {in_list(phones)}", f"MobilePhone IN {in_list(phones)}"]
    return f"{SELECT} WHERE {' OR '.join(clauses)}"


def identity(record: Any) -> CustomerIdentity | None:
    """The identity a Contact record describes, or None if it is not a usable Contact."""
    if not isinstance(record, dict) or not isinstance(record.get("Id"), str):
        return None
    opted_out = record.get("HasOptedOutOfEmail")
    return CustomerIdentity(
        ref=ExternalRef(System.SALESFORCE, record["Id"]),
        given_name=_text(record.get("FirstName")),
        family_name=_text(record.get("LastName")),
        email=_text(record.get("Email")),
        phone=_text(record.get("Phone")) or _text(record.get("MobilePhone")),
        created_at=parse_datetime(record.get("CreatedDate")),
        updated_at=parse_datetime(record.get("LastModifiedDate")),
        email_opt_in=None if not isinstance(opted_out, bool) else not opted_out,
    )


def parse_datetime(value: object) -> datetime | None:
    """Salesforce's JSON dateTime (`2024-09-18T07:40:00.000+0000`), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
