"""What the persisted-query tests (APQ and the safelist) send and read back."""

from __future__ import annotations

import hashlib
from typing import Any

UPSTREAMS = ("square", "shopify", "salesforce")
PRODUCTS = "query TwoProducts { products(first: 2) { edges { node { sku name } } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(query: str, *, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(query)}}


async def post(
    gateway: Any,
    *,
    query: str | None = None,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **more: Any,
) -> Any:
    """POST /graphql with the query and extensions given (and any other body keys)."""
    body = {key: value for key, value in (("query", query), ("extensions", extensions)) if value}
    return await gateway.http.post("/graphql", json={**body, **more}, headers=headers)


def code(response: Any) -> str:
    [error] = response.json()["errors"]
    return str(error["extensions"]["code"])


def upstream_calls(sandbox: Any) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in UPSTREAMS)
