"""Relay connections as Shopify serves them: edges, nodes, cursors, pageInfo.

Shopify's cursors are opaque base64 JSON naming the last row and its sort value; these are
the same shape, so a client that (wrongly) decodes them sees nothing unusual, and a client
that (rightly) treats them as opaque can page through any filtered, sorted list.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

from sandbox.shopify.filters import Ordered

Row = TypeVar("Row")


def encode_cursor(row_id: int, sort_value: object) -> str:
    payload = json.dumps({"last_id": row_id, "last_value": str(sort_value)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["last_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc


def connection(
    rows: Sequence[Row],
    args: dict[str, Any],
    *,
    row_id: Callable[[Row], int],
    node: Callable[[Row], dict[str, Any]],
    sort_value: Callable[[Row], object] | None = None,
) -> dict[str, Any]:
    """One page of `rows` (already filtered and ordered) for first/after/last/before."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError(
            "you must provide one of first or last", extensions={"code": "BAD_REQUEST"}
        )
    if first is not None and last is not None:
        raise GraphQLError(
            "providing both first and last is not supported", extensions={"code": "BAD_REQUEST"}
        )
    start, stop = 0, len(rows)
    if args.get("after") or args.get("before"):
        find = _finder(rows, row_id)
        if after := args.get("after"):
            found = find(decode_cursor(after))
            start = found + 1 if found is not None else 0
        if before := args.get("before"):
            found = find(decode_cursor(before))
            stop = found if found is not None else stop
    window = rows[start:stop]
    if first is not None:
        page = window[: max(int(first), 0)]
    else:
        page = window[max(len(window) - int(last or 0), 0) :]
    value_of = sort_value or row_id
    edges = [{"cursor": encode_cursor(row_id(r), value_of(r)), "node": node(r)} for r in page]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": len(page) < len(window) if first is not None else stop < len(rows),
            "hasPreviousPage": start > 0 if first is not None else len(page) < len(window),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _finder(rows: Sequence[Row], row_id: Callable[[Row], int]) -> Callable[[int], int | None]:
    if isinstance(rows, Ordered):
        return rows.position
    positions = {row_id(row): i for i, row in enumerate(rows)}
    return positions.get
