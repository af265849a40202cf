"""The distribution: a name of our own on PyPI (`omnigate` there is an unrelated project),
the `omnigate` command, and the Apache-2.0 licence pyproject.toml declares, shipped as its
canonical text."""

from __future__ import annotations

import hashlib
import tomllib

from conftest import REPO_ROOT

from gateway import DISTRIBUTION
from gateway.wiring.adapters import OMNIGATE

# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the text many installed
# packages ship in their dist-info (pymongo's, propcache's, ...)
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def project() -> dict[str, object]:
    table: dict[str, object] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return table


def test_the_distribution_has_a_name_of_its_own_and_the_command_stays_omnigate():
    assert project()["name"] == DISTRIBUTION == "omnigate-retail"
    assert project()["scripts"] == {"omnigate": "gateway.cli:main"}
    # the adapter registry skips its own distribution's entry points by this name
    assert OMNIGATE == DISTRIBUTION


def test_license_is_the_canonical_apache_2_0_text_pyproject_declares():
    assert project()["license"] == "Apache-2.0"
    text = (REPO_ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256


def test_the_image_build_context_admits_everything_the_dockerfile_copies():
    """.dockerignore starts from `**` (nothing) and admits paths back one by one: a source
    the Dockerfile copies but the context lacks fails the image build (LICENSE included, so
    the wheel built there carries it)."""
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied: set[str] = set()
    for line in (REPO_ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            copied.update(words[1:-1])
    assert {"LICENSE", "engine", "commerce"} <= copied
    missing = {
        source
        for source in copied
        if not any(source == path or source.startswith(f"{path}/") for path in admitted)
    }
    assert missing == set()
