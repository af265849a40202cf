"""The display principal: a store-scoped device token that reads what a shelf shows.

The authorization matrix (test_authz_matrix.py) holds every root field against a display;
here, the ways a document can try to reach around the scope: aliases, fragments, a refused
field next to an allowed one, and the token's claims.
"""

from __future__ import annotations

import pytest
from conftest import bearer

MIXED = """
query ($s: ID!) {
  product(sku: $s) { sku price { amount } }
  ...Who
}
fragment Who on Query { mine: me { id } }
"""


async def test_a_display_reads_products_stores_and_offers_of_its_store(gateway, tokens, dataset):
    store = str(dataset.stores[0].id)
    sku = dataset.products[0].sku
    document = """query ($s: ID!, $id: ID!) {
      product(sku: $s) { sku price { amount } availability { online { quantity } } }
      store(id: $id) { id }
      offers { code }
    }"""
    body = await gateway.query(
        document, {"s": sku, "id": store}, headers=bearer(tokens.display(store))
    )
    assert "errors" not in body, body
    assert body["data"]["product"]["sku"] == sku
    assert body["data"]["store"] == {"id": store}


async def test_a_refused_field_behind_a_fragment_and_an_alias_refuses_the_operation(
    gateway, tokens, dataset, sandbox
):
    store = str(dataset.stores[0].id)
    sandbox.reset_calls()
    body = await gateway.query(
        MIXED, {"s": dataset.products[0].sku}, headers=bearer(tokens.display(store))
    )
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["mine"], "FORBIDDEN")
    ]
    assert sum(sandbox.total_calls(v) for v in ("square", "shopify", "salesforce")) == 0


@pytest.mark.parametrize(
    "document",
    [
        "mutation { cartCreate { cart { id } } }",
        "{ cart { id } }",
        "{ wishlist { items { sku } } }",
        "{ _service { sdl } }",
    ],
)
async def test_a_display_is_refused_anything_else(gateway, tokens, dataset, document):
    body = await gateway.query(document, headers=bearer(tokens.display(str(dataset.stores[0].id))))
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


async def test_a_display_token_names_its_store(gateway, tokens):
    claims = tokens.claims("display", "display-9")  # no store_id
    body = await gateway.query("{ stores { id } }", headers=bearer(tokens.sign(claims)), status=401)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
