"""Compiling one search term into a row predicate, with the value normalized once.

Matching follows Shopify's documented filter types: text filters match case-insensitively
anywhere in the value, keyword filters (sku, email, handle, status) match the whole value
case-insensitively, `*` at the end of a value is a prefix search, ids compare as numbers
(given bare or as a gid), dates as instants, phones by their digits.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

Row = TypeVar("Row")
Kind = Literal["text", "keyword", "number", "date", "phone"]
Predicate = Callable[[Row], bool]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ":": operator.eq,
    ":<": operator.lt,
    ":<=": operator.le,
    ":>": operator.gt,
    ":>=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Field(Generic[Row]):
    kind: Kind
    get: Callable[[Row], Any]


def normal(kind: Kind, value: str) -> str:
    if kind == "phone":
        return "".join(ch for ch in value if ch.isdigit() or ch == "+")
    if kind == "number":  # ids may be given numeric or as a gid
        return value.rsplit("/", 1)[-1].strip()
    return value.strip().lower()


def parse_date(value: str) -> datetime | None:
    """Shopify accepts ISO-8601 dates and date-times; a bare date means midnight UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def term_predicate(spec: Field[Row], comparator: str, wanted: str) -> Predicate[Row]:
    get, kind, compare = spec.get, spec.kind, _ORDER[comparator]
    if kind in ("date", "number"):
        right: Any = parse_date(wanted) if kind == "date" else _integer(normal("number", wanted))
        if right is None:
            return lambda row: False
        cast: Callable[[Any], Any] = (lambda v: v) if kind == "date" else int
        return lambda row: (value := get(row)) is not None and compare(cast(value), right)
    needle = normal(kind, wanted)
    if comparator != ":":
        return lambda row: (
            (value := get(row)) is not None and compare(normal(kind, str(value)), needle)
        )
    if needle.endswith("*"):
        prefix = needle[:-1]
        return lambda row: (
            (value := get(row)) is not None and normal(kind, str(value)).startswith(prefix)
        )
    if kind == "text":
        return lambda row: (value := get(row)) is not None and needle in normal(kind, str(value))
    return lambda row: (value := get(row)) is not None and normal(kind, str(value)) == needle


def _integer(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
