"""POST /crm/v3/objects/contacts/search: filter groups, sorts, properties, `after` paging.

Filters in a group are ANDed, groups ORed; at most 5 groups, 10 filters a group and 25 in
all (HubSpot's limits since August 2024), 100 values an IN. String comparisons ignore case,
as HubSpot's do; the date properties compare as instants, given in milliseconds since the
epoch or ISO 8601. `limit` is 1..200 (default 10); `after` is the offset the previous page
handed out, and a search pages no further than 10,000 results (400 beyond). Results are in
the order of the sorts, then by id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request

from sandbox.hubspot.contacts import (
    DATETIME_PROPERTIES,
    DEFAULT_PROPERTIES,
    EDITABLE,
    ContactStore,
    HubSpotContact,
    render,
)
from sandbox.hubspot.envelope import validation_error

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_IN_VALUES = 100
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
SEARCHABLE = frozenset({*EDITABLE, *DATETIME_PROPERTIES, "hs_object_id"})
OPERATORS = frozenset(
    {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}
)


async def search(request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    groups = parse_groups(body.get("filterGroups") or [])
    limit, offset = page_bounds(body)
    properties = body.get("properties") or list(DEFAULT_PROPERTIES)
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        raise validation_error("properties must be a list of property names")
    store: ContactStore = request.app.state.hubspot_contacts
    matched = [c for c in store.rows if not groups or any(_all(g, c) for g in groups)]
    matched = _sorted(matched, body.get("sorts") or [])
    page: dict[str, Any] = {
        "total": len(matched),
        "results": [render(c, properties) for c in matched[offset : offset + limit]],
    }
    if offset + limit < len(matched):
        page["paging"] = {"next": {"after": str(offset + limit)}}
    return 200, page


Filter = tuple[str, str, list[str]]


def page_bounds(body: dict[str, Any]) -> tuple[int, int]:
    """A search's `limit` and the offset its `after` names, within HubSpot's caps."""
    limit = as_int(body.get("limit", DEFAULT_LIMIT), "limit")
    offset = as_int(body.get("after") or "0", "after")
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}")
    if offset + limit > MAX_RESULTS:
        raise validation_error(f"Search results are limited to {MAX_RESULTS} records")
    return limit, offset


def parse_groups(raw: Any, searchable: frozenset[str] = SEARCHABLE) -> list[list[Filter]]:
    """A search's filterGroups, checked against HubSpot's caps; names from `searchable`."""
    if not isinstance(raw, list) or len(raw) > MAX_GROUPS:
        raise validation_error(f"filterGroups: at most {MAX_GROUPS} groups")
    groups: list[list[Filter]] = []
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"a filter group holds at most {MAX_FILTERS_PER_GROUP} filters")
        groups.append([_filter(f, searchable) for f in filters])
    if sum(len(g) for g in groups) > MAX_FILTERS:
        raise validation_error(f"a search holds at most {MAX_FILTERS} filters")
    return groups


def _filter(raw: Any, searchable: frozenset[str]) -> Filter:
    if not isinstance(raw, dict):
        raise validation_error("a filter is an object")
    name, operator = raw.get("propertyName"), raw.get("operator")
    if name not in searchable:
        raise validation_error(
            f"There was a problem with the request: property {name!r} does not exist"
        )
    if operator not in OPERATORS:
        raise validation_error(f"operator {operator!r} is not supported here")
    if operator in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values or len(values) > MAX_IN_VALUES:
            raise validation_error(f"{operator} takes 1 to {MAX_IN_VALUES} values")
        return name, operator, [str(v) for v in values]
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return name, operator, []
    if "value" not in raw:
        raise validation_error(f"{operator} on {name} needs a value")
    return name, operator, [str(raw["value"])]


def _all(filters: list[Filter], contact: HubSpotContact) -> bool:
    return all(matches(f, contact, DATETIME_PROPERTIES) for f in filters)


class Valued(Protocol):
    """A record whose properties a search filters and sorts on (a contact, a ticket)."""

    def value(self, name: str) -> str | None: ...


def matches(rule: Filter, record: Valued, datetimes: frozenset[str]) -> bool:
    """Whether `record` passes one filter: HubSpot compares datetimes as instants, the
    object id as a number and any other property as case-insensitive text."""
    name, operator, values = rule
    held = record.value(name)
    if operator == "HAS_PROPERTY":
        return held is not None
    if operator == "NOT_HAS_PROPERTY":
        return held is None
    if held is None:
        return operator in ("NEQ", "NOT_IN")
    mine: Any
    theirs: list[Any]
    if name in datetimes:
        mine, theirs = instant(held), [instant(v) for v in values]
    elif name == "hs_object_id":
        mine, theirs = int(held), [as_int(v, name) for v in values]
    else:
        mine, theirs = held.lower(), [v.lower() for v in values]
    if operator == "IN":
        return mine in theirs
    if operator == "NOT_IN":
        return mine not in theirs
    first = theirs[0]
    if operator == "EQ":
        return bool(mine == first)
    if operator == "NEQ":
        return bool(mine != first)
    if operator == "LT":
        return bool(mine < first)
    if operator == "LTE":
        return bool(mine <= first)
    if operator == "GT":
        return bool(mine > first)
    return bool(mine >= first)  # GTE


def _sorted(contacts: list[HubSpotContact], sorts: Any) -> list[HubSpotContact]:
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list")
    ordered = sorted(contacts, key=lambda c: int(c.id))
    for sort in reversed(sorts):
        name: object
        if isinstance(sort, str):  # "-lastmodifieddate": descending
            name, descending = sort.lstrip("-"), sort.startswith("-")
        elif isinstance(sort, dict):
            name, descending = sort.get("propertyName"), sort.get("direction") == "DESCENDING"
        else:
            raise validation_error("a sort is a property name or {propertyName, direction}")
        if name not in SEARCHABLE:
            raise validation_error(f"cannot sort by {name!r}")
        ordered.sort(key=lambda c: sort_key(c, str(name), DATETIME_PROPERTIES), reverse=descending)
    return ordered


def sort_key(record: Valued, name: str, datetimes: frozenset[str]) -> tuple[bool, Any]:
    """Records without the property first, then by its value compared as `matches` does."""
    value = record.value(name)
    if value is None:
        return (False, "")
    if name in datetimes:
        return (True, instant(value))
    return (True, int(value) if name == "hs_object_id" else value.lower())


def instant(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise validation_error(f"{value!r} is not a date: milliseconds or ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_int(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise validation_error(f"{name} must be a whole number")
