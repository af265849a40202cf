"""Shopify's official Admin GraphQL schema, fetched from the npm registry for the tests.

The contract tests (tests/contract/test_shopify_admin_schema.py) validate every document the
Shopify adapter sends, and every answer the simulator gives, against the schema Shopify
publishes for the pinned API version. Shopify ships it, as an introspection result, in its
dev MCP server's npm package (`@shopify/dev-mcp`, `dist/data/admin_<version>.json.gz`).
This fetches that one tarball, refuses it unless its sha512 is the integrity pinned in
tools/shopify-admin-schema.json, and writes the pinned versions' files to .data/shopify/.
Never committed: Shopify's terms are theirs, and the file is 0.9 MB per version.

Standard library only, like tools/graphiql_assets.py (whose download and integrity check
it shares), so `make install` runs it before the virtualenv exists.

    python3 -m tools.shopify_admin_schema [--pin FILE] [--out DIR]   (from the repository root)

A new API version: add it to "schemas" (the package must ship it), and set
OMNIGATE_SHOPIFY__API_VERSION's default; a new package version: its integrity from
`npm view @shopify/dev-mcp@VERSION dist.integrity`.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from tools.graphiql_assets import FetchError, Locked, configured_registry, download, verify

ROOT = Path(__file__).resolve().parent.parent
PIN = ROOT / "tools" / "shopify-admin-schema.json"
OUT = ROOT / ".data" / "shopify"


def member(version: str) -> str:
    return f"package/dist/data/admin_{version}.json.gz"


def pinned(pin: Path, registry: str) -> tuple[Locked, list[str]]:
    try:
        spec = json.loads(pin.read_text())
        name, version = spec["package"], spec["version"]
        url = f"{registry.rstrip('/')}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"
        return Locked(name, version, spec["integrity"], url), list(spec["schemas"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"cannot read {pin}: {exc}") from exc


def fetch(pin: Path, out: Path, registry: str) -> list[str]:
    package, versions = pinned(pin, registry)
    tarball = download(package.url)
    verify(package, tarball)
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for version in versions:
            try:
                extracted = archive.extractfile(member(version))
            except KeyError:
                extracted = None
            if extracted is None:
                raise FetchError(f"{package.name} {package.version} has no {member(version)}")
            files[f"admin_{version}.json.gz"] = extracted.read()
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        partial = out / f".{name}.partial"
        partial.write_bytes(content)
        partial.replace(out / name)  # either the old file or the whole new one
    return sorted(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", type=Path, default=PIN)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        written = fetch(args.pin, args.out, configured_registry())
    except FetchError as exc:
        print(f"Shopify Admin schema: {exc}", file=sys.stderr)
        return 1
    print(f"Shopify Admin schema: {', '.join(written)} verified and written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
