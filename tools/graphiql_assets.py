"""GraphiQL's browser files, fetched from the npm registry and checked against the npm lock.

omnigate serves GraphiQL itself, never from a CDN. It needs four files of three npm
packages: GraphiQL's bundle and stylesheet, and the UMD builds of React and ReactDOM.
`npm ci` installed all 106 packages of GraphiQL's tree to copy them; this fetches only the
three tarballs, refuses any whose sha512 differs from the `integrity` npm recorded for it in
package-lock.json, and extracts the four files into assets/. Nothing is written unless all
three verify.

Standard library only: `make install` runs it before the virtualenv exists, and the image
runs it in its build stage, where there is no Node.js.

    python3 tools/graphiql_assets.py [--lock FILE] [--out DIR]

(defaults: gateway/graphiql/package-lock.json, gateway/graphiql/assets)

The registry is NPM_CONFIG_REGISTRY (npm's own variable), else https://registry.npmjs.org/.
New versions: change package.json, then `make graphiql-lock` (npm rewrites package-lock.json
without installing anything).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GRAPHIQL = Path(__file__).resolve().parent.parent / "gateway" / "graphiql"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"

# package -> the files served from assets/, as they lie in the package's tarball
FILES: Mapping[str, tuple[str, ...]] = {
    "graphiql": ("package/graphiql.min.js", "package/graphiql.min.css"),
    "react": ("package/umd/react.production.min.js",),
    "react-dom": ("package/umd/react-dom.production.min.js",),
}


class FetchError(Exception):
    pass


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    integrity: str
    url: str


def locked_packages(lock_path: Path, registry: str) -> list[Locked]:
    """The three packages as package-lock.json pins them, checked against package.json."""
    try:
        lock = json.loads(lock_path.read_text())
        manifest = json.loads((lock_path.parent / "package.json").read_text())
    except (OSError, ValueError) as exc:
        raise FetchError(f"cannot read the npm lock: {exc}") from exc
    wanted = manifest.get("dependencies", {})
    entries = lock.get("packages", {})
    packages = []
    for name in FILES:
        entry = entries.get(f"node_modules/{name}")
        if entry is None or "integrity" not in entry:
            raise FetchError(
                f"{lock_path} pins no {name} with an integrity: run `make graphiql-lock`"
            )
        if wanted.get(name) != entry["version"]:
            raise FetchError(
                f"package.json asks {name} {wanted.get(name)}, {lock_path.name} has "
                f"{entry['version']}: run `make graphiql-lock`"
            )
        # npm leaves `resolved` out of a lock when told to (omit-lockfile-registry-resolved)
        # and then fetches from the configured registry, as this does
        url = entry.get("resolved") or (
            f"{registry.rstrip('/')}/{name}/-/{name.rsplit('/', 1)[-1]}-{entry['version']}.tgz"
        )
        packages.append(Locked(name, entry["version"], entry["integrity"], url))
    return packages


def verify(package: Locked, tarball: bytes) -> None:
    """Subresource Integrity as npm writes it: `sha512-<base64>`, possibly among others."""
    expected = [
        i.removeprefix("sha512-") for i in package.integrity.split() if i.startswith("sha512-")
    ]
    if not expected:
        raise FetchError(f"{package.name} {package.version}: the lock has no sha512 integrity")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual not in expected:
        raise FetchError(
            f"{package.name} {package.version}: the tarball from {package.url} has "
            f"sha512-{actual}, package-lock.json says sha512-{expected[0]}; nothing was written"
        )


def download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise FetchError(f"GET {url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"GET {url}: {exc}") from exc


def extract(package: Locked, tarball: bytes) -> dict[str, bytes]:
    """The package's served files by their name in assets/."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in FILES[package.name]:
            try:
                content = archive.extractfile(member)
            except KeyError:
                content = None
            if content is None:
                raise FetchError(f"{package.name} {package.version} has no file {member}")
            files[Path(member).name] = content.read()
    return files


def fetch(lock_path: Path, out: Path, registry: str) -> list[str]:
    files: dict[str, bytes] = {}
    for package in locked_packages(lock_path, registry):
        tarball = download(package.url)
        verify(package, tarball)
        files.update(extract(package, tarball))
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        partial = out / f".{name}.partial"
        partial.write_bytes(content)
        partial.replace(out / name)  # a file is either the old one or the whole new one
    return sorted(files)


def configured_registry() -> str:
    """npm's registry setting, which npm reads from the environment in either case."""
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or os.environ.get("npm_config_registry")  # noqa: SIM112
    return registry or DEFAULT_REGISTRY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=GRAPHIQL / "package-lock.json")
    parser.add_argument("--out", type=Path, default=GRAPHIQL / "assets")
    args = parser.parse_args(argv)
    try:
        written = fetch(args.lock, args.out, configured_registry())
    except FetchError as exc:
        print(f"GraphiQL assets: {exc}", file=sys.stderr)
        return 1
    print(f"GraphiQL assets: {', '.join(written)} verified and written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
