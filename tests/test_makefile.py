"""make installs a missing Debian package only as root; anyone else is told the command.

The real make runs the real Makefile; PATH holds only `id` and a stand-in apt-get that
records its calls, so chromium is missing and no package is really installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT

MAKE = shutil.which("make")
SETPRIV = shutil.which("setpriv")
NOBODY = 65534

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


@pytest.fixture
def bare_path():
    """A PATH without chromium, whose apt-get writes its arguments to apt-get.calls.

    Outside pytest's tmp_path, whose parents only root may enter: the unprivileged run must
    reach `id` and apt-get too."""
    root = Path(tempfile.mkdtemp(prefix="omnigate-make-"))
    root.chmod(0o777)
    bin_dir = root / "bin"
    bin_dir.mkdir(mode=0o755)
    os.symlink(shutil.which("id"), bin_dir / "id")
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(f'#!/bin/sh\necho "$*" >> {root}/apt-get.calls\n')
    apt_get.chmod(0o755)
    yield bin_dir
    shutil.rmtree(root)


def make_browser(bin_dir, *as_user: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*as_user, MAKE, "--no-print-directory", "-f", str(REPO_ROOT / "Makefile"), "browser"],
        cwd=bin_dir,
        env={"PATH": str(bin_dir), "HOME": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def unprivileged() -> list[str]:
    if os.getuid() != 0:
        return []
    if SETPRIV is None:
        pytest.skip("running as root and setpriv is missing")
    return [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def test_not_root_prints_the_apt_command_and_runs_nothing(bare_path):
    result = make_browser(bare_path, *unprivileged())
    assert result.returncode != 0
    assert "id:" not in result.stderr  # the check itself ran: not root, rather than no answer
    assert "chromium is missing" in result.stderr
    assert "sudo apt-get update && sudo apt-get install chromium" in result.stderr
    assert not (bare_path.parent / "apt-get.calls").exists()


@pytest.mark.skipif(os.getuid() != 0, reason="only root installs packages")
def test_root_installs_the_package_itself(bare_path):
    result = make_browser(bare_path)
    assert result.returncode == 0, result.stderr
    calls = (bare_path.parent / "apt-get.calls").read_text().splitlines()
    assert calls == ["update -qq", "install -y -qq chromium"]
