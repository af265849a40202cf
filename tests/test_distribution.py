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
