"""Building SOQL safely: every literal escaped, every statement within the URI budget.

Values never reach SOQL unescaped: SOQL's quoted string escapes cover the quote and the
backslash (its reserved characters) and the control characters a stray value might carry,
so an email like `o'brien@example.com` is one literal, never a break-out of the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote_plus

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
# A query travels in the GET URI, which Salesforce caps at 16,384 bytes together with the
# headers (414/431 beyond). Half of that leaves room for the path, the bearer token and the
# query's server-side expansion Salesforce warns about.
MAX_ENCODED_SOQL = 8_192


def string_literal(value: str) -> str:
    """`value` as a quoted SOQL string literal."""
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def datetime_literal(value: datetime) -> str:
    """An unquoted SOQL dateTime literal in UTC (`2024-09-18T07:40:00Z`), to the second."""
    if value.tzinfo is None:
        raise ValueError("SOQL dateTime literals need an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(string_literal(value) for value in values) + ")"


def encoded_length(text: str) -> int:
    """Bytes `text` takes in a query string (form encoding, as httpx sends `params`)."""
    return len(quote_plus(text))
