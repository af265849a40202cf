"""GraphiQL's files come from three npm tarballs, each checked against package-lock.json.

tools/graphiql_assets.py runs as `make install` runs it, against a registry on loopback that serves
tarballs made here; `make install` itself fetches the real ones from the npm registry.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "tools" / "graphiql_assets.py"


def _script() -> ModuleType:
    """tools/ is not installed (it runs before anything is): the script, loaded from its file."""
    spec = importlib.util.spec_from_file_location("graphiql_assets", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


graphiql_assets = _script()
FILES = graphiql_assets.FILES
VERSIONS = {"graphiql": "3.9.0", "react": "18.3.1", "react-dom": "18.3.1"}


def tarball(name: str, marker: str) -> bytes:
    """An npm-style package tarball whose served files each say which package they are."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in (*FILES[name], "package/package.json"):
            content = f"/* {name} {marker} {member} */".encode()
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    """Tarballs by URL path, as the npm registry lays them out: /NAME/-/NAME-VERSION.tgz."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = registry.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def publish(self, name: str, data: bytes) -> None:
        self.files[f"/{name}/-/{name}-{VERSIONS[name]}.tgz"] = data


@pytest.fixture
def registry() -> Iterator[Registry]:
    registry = Registry()
    thread = threading.Thread(target=registry.server.serve_forever, daemon=True)
    thread.start()
    yield registry
    registry.server.shutdown()
    registry.server.server_close()
    thread.join()


@pytest.fixture
def locked(tmp_path: Path, registry: Registry) -> Path:
    """package.json and package-lock.json as npm writes them, for tarballs the registry has."""
    lock: dict[str, object] = {"name": "omnigate-graphiql-assets", "lockfileVersion": 3}
    packages: dict[str, object] = {"": {"dependencies": VERSIONS}}
    for name, version in VERSIONS.items():
        data = tarball(name, "published")
        registry.publish(name, data)
        packages[f"node_modules/{name}"] = {"version": version, "integrity": integrity(data)}
    lock["packages"] = packages
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": VERSIONS}))
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    return tmp_path / "package-lock.json"


def fetch(lock: Path, out: Path, registry: Registry) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--lock", str(lock), "--out", str(out)],
        env={**os.environ, "NPM_CONFIG_REGISTRY": registry.url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_four_files_are_extracted_from_tarballs_that_match_the_lock(tmp_path, registry, locked):
    out = tmp_path / "assets"
    result = fetch(locked, out, registry)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "graphiql.min.css",
        "graphiql.min.js",
        "react-dom.production.min.js",
        "react.production.min.js",
    ]
    served = (out / "react.production.min.js").read_text()
    assert served == "/* react published package/umd/react.production.min.js */"


def test_a_tarball_that_differs_from_the_lock_is_refused_and_nothing_is_written(
    tmp_path, registry, locked
):
    registry.publish("react-dom", tarball("react-dom", "tampered"))
    out = tmp_path / "assets"
    result = fetch(locked, out, registry)
    assert result.returncode == 1
    expected = json.loads(locked.read_text())["packages"]["node_modules/react-dom"]["integrity"]
    assert f"react-dom 18.3.1: the tarball from {registry.url}react-dom/-/" in result.stderr
    assert f"package-lock.json says {expected}; nothing was written" in result.stderr
    assert not out.exists()  # graphiql and react verified, but are not written either


def test_a_lock_behind_package_json_is_refused(tmp_path, registry, locked):
    (tmp_path / "package.json").write_text(
        json.dumps({"dependencies": {**VERSIONS, "graphiql": "3.9.1"}})
    )
    result = fetch(locked, tmp_path / "assets", registry)
    assert result.returncode == 1
    assert "package.json asks graphiql 3.9.1, package-lock.json has 3.9.0" in result.stderr
    assert "make graphiql-lock" in result.stderr


def test_the_committed_lock_pins_the_three_packages_with_sha512():
    lock = REPO_ROOT / "gateway" / "graphiql" / "package-lock.json"
    packages = graphiql_assets.locked_packages(lock, "https://registry.npmjs.org/")
    assert {p.name: p.version for p in packages} == VERSIONS
    assert all(p.integrity.startswith("sha512-") for p in packages)
