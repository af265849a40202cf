"""Loyalty API: SearchLoyaltyAccounts by customer ids or phone-number mappings, and
RetrieveLoyaltyAccount by id (`GET /v2/loyalty/accounts/{account_id}`, 404 NOT_FOUND for an
id the seller has no account under).

SearchLoyaltyAccountsRequestLoyaltyAccountQuery: `customer_ids` or `mappings`, never both,
at most 30 of either; `limit` 1 to 30 (default 30); accounts in order of creation date.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.square import shapes
from sandbox.square.body import field, id_list, strict_limit
from sandbox.square.envelope import SquareApiError, invalid_request
from sandbox.square.paging import paginate
from sandbox.square.world import SquareWorld

QUERY_MAX_IDS = 30
SEARCH_MAX_LIMIT = 30


async def search_loyalty_accounts(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    limit = strict_limit(body, default=SEARCH_MAX_LIMIT, minimum=1, maximum=SEARCH_MAX_LIMIT)
    customer_ids = id_list(body, "query", "customer_ids", max_length=QUERY_MAX_IDS)
    mappings = field(body, "query", "mappings")
    if customer_ids is not None and mappings is not None:
        raise invalid_request(
            "BAD_REQUEST",
            "`customer_ids` cannot be combined with `mappings`.",
            "query",
        )
    if customer_ids is not None:
        accounts = [a for c in dict.fromkeys(customer_ids) for a in world.loyalty_by_customer[c]]
    elif mappings is not None:
        accounts = [a for phone in _mapped_phones(mappings) for a in world.loyalty_by_phone[phone]]
    else:
        accounts = list(world.dataset.loyalty_accounts)
    unique = list({account.id: account for account in accounts}.values())
    unique.sort(key=lambda a: (a.created_at, a.id))
    page = paginate(unique, body, limit)
    payload: dict[str, Any] = {
        "loyalty_accounts": [shapes.loyalty_account(world.current_account(a)) for a in page.items]
    }
    if page.cursor:
        payload["cursor"] = page.cursor
    return payload


async def retrieve_loyalty_account(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    account = world.loyalty_by_id.get(request.path_params["account_id"])
    if account is None:
        raise SquareApiError(
            404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Loyalty account not found.", "account_id"
        )
    return {"loyalty_account": shapes.loyalty_account(world.current_account(account))}


def _mapped_phones(mappings: object) -> list[str]:
    where = "query.mappings"
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        raise invalid_request("EXPECTED_ARRAY", "`mappings` must be an array of objects.", where)
    if len(mappings) > QUERY_MAX_IDS:
        raise invalid_request(
            "ARRAY_LENGTH_TOO_LONG", f"Cannot provide more than {QUERY_MAX_IDS} mappings.", where
        )
    return list(dict.fromkeys(str(m.get("phone_number", "")) for m in mappings))
