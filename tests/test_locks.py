"""The hashed locks in requirements/ hold what pyproject.toml asks for, and the image uses them.

`make install` also runs `pip check` after installing lock-dev.txt; these hold what it
cannot see: the image's lock.txt (CI builds no image), and the reasons beside the pins.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass

import pytest
from conftest import REPO_ROOT
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REQUIREMENTS = REPO_ROOT / "requirements"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ; (.+?))? \\$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")


@dataclass
class Pin:
    version: Version
    marker: str | None
    hashes: int


def pins(lock: str) -> dict[str, list[Pin]]:
    """name -> its pins (a universal lock may pin one name per marker), hashes counted."""
    found: dict[str, list[Pin]] = {}
    current: Pin | None = None
    for line in (REQUIREMENTS / lock).read_text().splitlines():
        if match := PIN.match(line):
            name, version, marker = match.groups()
            current = Pin(Version(version), marker, 0)
            found.setdefault(canonicalize_name(name), []).append(current)
        elif HASH.match(line) and current is not None:
            current.hashes += 1
        elif not line.startswith(("#", "    #")):
            current = None
    return found


def build_requirements() -> list[str]:
    text = (REQUIREMENTS / "build.in").read_text().splitlines()
    return [line for line in text if line.strip() and not line.startswith("#")]


RUNTIME = [*PYPROJECT["project"]["dependencies"], *build_requirements()]
DEV = [*RUNTIME, *PYPROJECT["project"]["optional-dependencies"]["dev"]]


def applicable(pin: Pin) -> bool:
    return pin.marker is None or Marker(pin.marker).evaluate()


@pytest.mark.parametrize(("lock", "wanted"), [("lock-dev.txt", DEV), ("lock.txt", RUNTIME)])
def test_every_requirement_is_pinned_within_its_range(lock, wanted):
    locked = pins(lock)
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{lock} lacks {name}: run `make lock`"
        versions = [p.version for p in locked[name] if applicable(p)]
        assert versions, f"{lock} pins {name} for no marker of Python {sys.version_info[:2]}"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {name} {version}, pyproject.toml asks {requirement.specifier}: "
                "run `make lock`"
            )


def test_every_pin_carries_hashes():
    for lock in ("lock.txt", "lock-dev.txt"):
        unhashed = [n for n, ps in pins(lock).items() for p in ps if p.hashes == 0]
        assert unhashed == [], lock


def test_the_image_lock_is_the_dev_lock_without_the_tools():
    runtime, dev = pins("lock.txt"), pins("lock-dev.txt")
    for name, locked in runtime.items():
        assert [(p.version, p.marker, p.hashes) for p in locked] == [
            (p.version, p.marker, p.hashes) for p in dev[name]
        ], name
    # (a dev requirement may still be a runtime one's dependency: PyYAML is uvicorn's)
    assert {"pytest", "respx", "ruff", "mypy", "playwright", "uv", "pip-audit"} <= dev.keys()
    assert {
        "pytest",
        "respx",
        "ruff",
        "mypy",
        "playwright",
        "uv",
        "pip-audit",
    } & runtime.keys() == set()


def test_the_locked_setuptools_is_the_build_backend_range():
    (setuptools,) = [r for r in build_requirements() if r.startswith("setuptools")]
    assert PYPROJECT["build-system"]["requires"] == [setuptools]


def test_every_upper_bound_says_why():
    """A bound with no reason is never lifted: each has its comment beside it or just above."""
    lines = (REPO_ROOT / "pyproject.toml").read_text().splitlines()
    start, end = lines.index("dependencies = ["), lines.index("[project.scripts]")
    unexplained = [
        line.strip()
        for above, line in zip(lines[start : end - 1], lines[start + 1 : end], strict=True)
        if line.strip().startswith('"') and "<" in line
        if "#" not in line and not above.strip().startswith("#")
    ]
    assert unexplained == []


def test_the_image_installs_only_from_the_lock():
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert any("--require-hashes" in i and "-r requirements/lock.txt" in i for i in installs)
    for install in installs:
        # either the hashed lock, or the project alone with neither dependencies nor a
        # build environment fetched unhashed
        assert "--require-hashes" in install or (
            "--no-deps" in install and "--no-build-isolation" in install
        ), install
