"""Loyalty API: SearchLoyaltyEvents, over the events the simulator's own accumulate and
adjust calls made (the seeded accounts start with a balance and no history).

SearchLoyaltyEventsRequest: `query.filter` with `loyalty_account_filter.loyalty_account_id`
(required when the filter is given) and `date_time_filter.created_at` {start_at inclusive,
end_at exclusive}; `limit` 1 to 30 (default 30); events newest first, cursor paging.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request

from sandbox.square.body import field, strict_limit
from sandbox.square.envelope import invalid_request
from sandbox.square.paging import paginate
from sandbox.square.world import SquareWorld

SEARCH_MAX_LIMIT = 30


async def search_loyalty_events(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    limit = strict_limit(body, default=SEARCH_MAX_LIMIT, minimum=1, maximum=SEARCH_MAX_LIMIT)
    account_filter = field(body, "query", "filter", "loyalty_account_filter")
    account_id = None
    if account_filter is not None:
        if isinstance(account_filter, dict):
            account_id = account_filter.get("loyalty_account_id")
        if not isinstance(account_id, str) or not account_id:
            raise invalid_request(
                "MISSING_REQUIRED_PARAMETER",
                "Missing `loyalty_account_id`.",
                "query.filter.loyalty_account_filter.loyalty_account_id",
            )
    start, end = _range(field(body, "query", "filter", "date_time_filter", "created_at"))
    events = [
        event
        for answer in world.loyalty_calls.values()
        for event in _events_of(answer)
        if (account_id is None or event["loyalty_account_id"] == account_id)
        and (start is None or _at(event) >= start)
        and (end is None or _at(event) < end)
    ]
    unique = list({event["id"]: event for event in events}.values())
    unique.sort(key=lambda e: (_at(e), e["id"]), reverse=True)
    page = paginate(unique, body, limit)
    payload: dict[str, Any] = {"events": page.items} if page.items else {}
    if page.cursor:
        payload["cursor"] = page.cursor
    return payload


def _events_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """AccumulateLoyaltyPoints answers `events`, AdjustLoyaltyPoints one `event`."""
    if "event" in answer:
        return [answer["event"]]
    return list(answer.get("events") or [])


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


def _range(created_at: object) -> tuple[datetime | None, datetime | None]:
    if created_at is None:
        return None, None
    where = "query.filter.date_time_filter.created_at"
    if not isinstance(created_at, dict):
        raise invalid_request("EXPECTED_OBJECT", "`created_at` must be an object.", where)
    try:
        start, end = (
            datetime.fromisoformat(str(created_at[k]).replace("Z", "+00:00"))
            if k in created_at
            else None
            for k in ("start_at", "end_at")
        )
    except ValueError as exc:
        raise invalid_request("INVALID_TIME", "Not an RFC 3339 time.", where) from exc
    return start, end
