"""Customers API: SearchCustomers and BulkRetrieveCustomers.

Text filters follow Square's CustomerFilter reference: `exact` email is a case-insensitive
identity, `fuzzy` email tokenises on punctuation and needs every query token inside some address
token; `exact` phone must be E.164-compliant (formatting such as spaces, dashes and brackets is
tolerated), `fuzzy` phone needs every query token inside the stored number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from sandbox.dataset import PosCustomer
from sandbox.square import shapes
from sandbox.square.body import field, id_list, one_of, strict_limit
from sandbox.square.envelope import invalid_request
from sandbox.square.paging import paginate
from sandbox.square.world import SquareWorld

# SearchCustomersRequest.limit: default 100; out of range is 400 VALUE_TOO_LOW / VALUE_TOO_HIGH.
SEARCH_MAX_LIMIT = 100
# BulkRetrieveCustomersRequest.customer_ids: "Min Length 1, Max Length 100".
BULK_RETRIEVE_MAX_IDS = 100
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_FORMATTING = re.compile(r"[\s\-().]")

Match = Callable[[PosCustomer], bool]


async def search_customers(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    limit = strict_limit(body, default=SEARCH_MAX_LIMIT, minimum=1, maximum=SEARCH_MAX_LIMIT)
    matchers = _filters(field(body, "query", "filter") or {})
    found = [c for c in _sorted(world, body) if all(match(c) for match in matchers)]
    page = paginate(found, body, limit)
    payload: dict[str, Any] = {"customers": [shapes.customer(c) for c in page.items]}
    if page.cursor:
        payload["cursor"] = page.cursor
    if body.get("count"):
        payload["count"] = len(found)
    return payload


async def bulk_retrieve_customers(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    ids = id_list(body, "customer_ids", max_length=BULK_RETRIEVE_MAX_IDS, required=True) or []
    responses: dict[str, Any] = {}
    for customer_id in ids:
        known = world.customers_by_id.get(customer_id)
        if known is None:
            error = {
                "category": "INVALID_REQUEST_ERROR",
                "code": "NOT_FOUND",
                "detail": f"Customer with ID `{customer_id}` not found.",
            }
            responses[customer_id] = {"errors": [error]}
        else:
            responses[customer_id] = {"customer": shapes.customer(known)}
    return {"responses": responses}


def _sorted(world: SquareWorld, body: dict[str, Any]) -> list[PosCustomer]:
    sort_field = one_of(
        body, "query", "sort", "field", allowed=("DEFAULT", "CREATED_AT"), default="DEFAULT"
    )
    order = one_of(body, "query", "sort", "order", allowed=("ASC", "DESC"), default="ASC")
    if sort_field == "CREATED_AT":
        ordered = sorted(world.customers_by_name, key=lambda c: (c.created_at, c.id))
    else:
        ordered = list(world.customers_by_name)
    return ordered[::-1] if order == "DESC" else ordered


def _filters(spec: dict[str, Any]) -> list[Match]:
    matchers: list[Match] = []
    email = _text_filter(spec, "email_address")
    if email is not None:
        mode, text = email
        matchers.append(_email_matcher(mode, text))
    phone = _text_filter(spec, "phone_number")
    if phone is not None:
        mode, text = phone
        matchers.append(_phone_matcher(mode, text))
    return matchers


def _text_filter(spec: dict[str, Any], name: str) -> tuple[str, str] | None:
    """(mode, text) of a CustomerTextFilter, which "can be either exact or fuzzy, not both"."""
    value = spec.get(name)
    if value is None:
        return None
    where = f"query.filter.{name}"
    if not isinstance(value, dict) or len(value.keys() & {"exact", "fuzzy"}) != 1:
        raise invalid_request("INVALID_VALUE", "Set exactly one of `exact` or `fuzzy`.", where)
    mode = "exact" if "exact" in value else "fuzzy"
    text = value[mode]
    if not isinstance(text, str) or not text.strip():
        raise invalid_request("INVALID_VALUE", f"`{mode}` must be a non-empty string.", where)
    return mode, text


def _email_matcher(mode: str, text: str) -> Match:
    if mode == "exact":
        wanted = text.strip().lower()
        return lambda c: c.email_address is not None and c.email_address.lower() == wanted
    query_tokens = _tokens(text)

    def fuzzy(customer: PosCustomer) -> bool:
        if customer.email_address is None:
            return False
        address_tokens = _tokens(customer.email_address)
        return all(any(q in a for a in address_tokens) for q in query_tokens)

    return fuzzy


def _phone_matcher(mode: str, text: str) -> Match:
    if mode == "exact":
        wanted = _PHONE_FORMATTING.sub("", text)
        if not _E164.match(wanted):
            raise invalid_request(
                "INVALID_PHONE_NUMBER",
                "The phone number must be E.164-compliant, e.g. +12062223333.",
                "query.filter.phone_number.exact",
            )
        return lambda c: c.phone_number == wanted
    query_tokens = _tokens(text)
    return lambda c: c.phone_number is not None and all(t in c.phone_number for t in query_tokens)


def _tokens(text: str) -> list[str]:
    return _PUNCTUATION.sub(" ", text.lower()).split()
