"""Building Shopify search-syntax query strings from values we do not control.

Every value is quoted and escaped, so an email, a phone number with `+`, or a SKU with a
dash is one term and can never turn into syntax (`OR`, `-negation`, `field:`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

_SYNTAX = set(":()\"'\\")


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def any_of(field: str, values: Iterable[str]) -> str:
    """`field:"a" OR field:"b"`: the disjunction Shopify answers in one query."""
    return " OR ".join(f"{field}:{quoted(value)}" for value in values)


def timestamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return quoted(aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def free_text(text: str) -> str:
    """A shopper's words as plain search terms: syntax characters and connectives dropped."""
    words = ("".join(ch for ch in word if ch not in _SYNTAX) for word in text.split())
    return " ".join(w.lstrip("-") for w in words if w.lstrip("-") and w not in ("AND", "OR", "NOT"))


def numeric_id(value: str) -> str:
    """The number at the end of a gid (`gid://shopify/Customer/42` -> `42`), or the value."""
    return value.rsplit("/", 1)[-1]
