"""The committed SDL, the CLI, and the Federation v2 subgraph contract."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT


def _omnigate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=False,
    )  # fmt: skip


def test_committed_schema_is_the_printed_schema():
    printed = _omnigate("export-schema")
    assert printed.returncode == 0, printed.stderr
    committed = (REPO_ROOT / "schema.graphql").read_text()
    assert printed.stdout == committed, "run `make schema` and commit schema.graphql"


def test_help_lists_the_commands():
    result = _omnigate("--help")
    assert result.returncode == 0
    for command in ("serve", "sandbox", "export-schema", "dev"):
        assert command in result.stdout


async def test_is_a_federation_v2_subgraph_with_entity_keys(gateway):
    sdl = (await gateway.query("{ _service { sdl } }"))["data"]["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2' in sdl
    for type_name, key in (("Product", "sku"), ("Store", "id"), ("Customer", "id")):
        assert f'type {type_name} @key(fields: "{key}")' in sdl


async def test_entities_resolve_by_key(gateway, dataset):
    product, store = dataset.products[5], dataset.stores[0]
    body = await gateway.query(
        "query ($r: [_Any!]!) { _entities(representations: $r) {"
        " ... on Product { sku name } ... on Store { id name } } }",
        {
            "r": [
                {"__typename": "Product", "sku": product.sku},
                {"__typename": "Store", "id": store.id},
            ]
        },
    )
    assert body["data"]["_entities"] == [
        {"sku": product.sku, "name": product.title},
        {"id": store.id, "name": store.name},
    ]


def test_the_cli_knows_every_sandbox_vendor_and_its_port():
    from gateway.cli import SANDBOX_PORTS
    from sandbox.server import DEFAULT_PORTS

    assert SANDBOX_PORTS == DEFAULT_PORTS
