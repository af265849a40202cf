"""`python -m bench.soak`, run for six seconds against its own stack (mongod, the simulators,
one gateway worker): the JSON holds a sample per second of the worker's memory, descriptors
and connections with every traffic kind's figures, and the chart beside it is a PNG. The
figures themselves are the benchmark's business (bench/README.md), not this test's."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from bench.soak_windows import KINDS

# starts whole processes (the stack, workers): `make test-processes`, its own CI step
pytestmark = pytest.mark.processes


def test_a_short_soak_writes_its_samples_and_chart(tmp_path):
    out = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "0.1", "--sample-seconds", "1",
         "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())

    samples = result["samples"]
    assert len(samples) >= 5
    assert [s["t"] for s in samples] == sorted(s["t"] for s in samples)
    for sample in samples:
        assert sample["rss_bytes"] > 0
        assert sample["open_fds"] > 0
        assert set(sample["traffic"]) == set(KINDS)
    # the worker's connections were found and sorted by peer while the traffic ran
    assert any(s["connections"].get("client", 0) > 0 for s in samples)
    assert all(s["connections"].get("mongodb", 0) > 0 for s in samples)
    assert any(s["connections"].get("shopify", 0) > 0 for s in samples)

    summary = result["summary"]
    assert summary["errors"] == 0, summary["errors_by_kind_and_code"]
    for kind in KINDS:  # every kind of traffic ran and was timed
        assert summary["latency"][kind]["count"] > 0, kind
        assert summary["latency"][kind]["p99_ms"] > 0, kind
    assert summary["rss_mb"]["start"] == round(samples[0]["rss_bytes"] / 2**20, 1)
    assert summary["rss_mb"]["end"] == round(samples[-1]["rss_bytes"] / 2**20, 1)

    chart = out.with_suffix(".png").read_bytes()
    assert chart[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", chart[16:24])  # IHDR, the first chunk
    assert (width, height) == (1000, 900)
