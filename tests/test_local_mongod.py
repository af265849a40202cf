"""When the local mongod cannot start, its own words reach the person who ran `make run`.

Both failures are real: the wheel's mongod, started by the real dynamic loader, once with a
libcurl it cannot load and once on a port another socket holds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from gateway.local_mongod import LocalMongod, LocalMongodError


def test_make_run_without_a_loadable_libcurl_shows_the_loader_error_and_the_package(tmp_path):
    # The loader searches LD_LIBRARY_PATH first and stops at a file it cannot load, exactly
    # as it stops when libcurl4 is not installed: exit 127 before mongod writes any log.
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libcurl.so.4").write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "dev", "--data-dir", str(tmp_path / "data")],
        cwd=REPO_ROOT,
        env={**os.environ, "LD_LIBRARY_PATH": str(broken)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "mongod exited with 127." in result.stderr
    assert f"error while loading shared libraries: {broken}/libcurl.so.4" in result.stderr
    assert "sudo apt-get install libcurl4" in result.stderr


def test_an_error_mongod_logs_is_shown_once_per_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for _ in range(2):  # the same data dir: the log keeps the first run's error
            with pytest.raises(LocalMongodError) as refused:
                LocalMongod(tmp_path, port=port).start(timeout=30)
            report = str(refused.value)
            assert report.startswith("mongod exited with 48.")
            assert report.count("Address already in use") == 1, report
            assert "Error setting up listener" in report
