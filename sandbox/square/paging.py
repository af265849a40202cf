"""Square's cursor pagination: opaque cursors bound to the query that produced them.

Square requires the follow-up request to repeat the original query with the cursor; a cursor
presented with a different query is refused (INVALID_CURSOR), which the fingerprint enforces.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sandbox.square.envelope import invalid_request

T = TypeVar("T")
# Fields that may change between pages without changing the query.
_PAGING_FIELDS = frozenset({"cursor", "limit"})


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursor: str | None


def paginate(items: Sequence[T], body: dict[str, Any], limit: int) -> Page[T]:
    """The page of `items` the body's cursor points at, and the cursor of the next one."""
    fingerprint = _fingerprint(body)
    offset = _offset(body.get("cursor"), fingerprint)
    end = offset + limit
    cursor = _encode(end, fingerprint) if end < len(items) else None
    return Page(list(items[offset:end]), cursor)


def _fingerprint(body: dict[str, Any]) -> str:
    query = {key: value for key, value in body.items() if key not in _PAGING_FIELDS}
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(cursor: object, fingerprint: str) -> int:
    if cursor is None or cursor == "":
        return 0
    refused = invalid_request("INVALID_CURSOR", "The cursor is not valid for this query.", "cursor")
    if not isinstance(cursor, str):
        raise refused
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, issued_for = decoded["o"], decoded["q"]
    except (ValueError, KeyError, TypeError) as exc:
        raise refused from exc
    if issued_for != fingerprint or not isinstance(offset, int) or offset < 0:
        raise refused
    return offset
