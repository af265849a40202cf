"""The soak's chart: the gateway worker's memory, its descriptors and connections, and each
traffic kind's p99, over the run (bench/soak.py writes it beside its JSON).

matplotlib's object API with its Agg canvas: no pyplot state, no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench.soak_windows import KINDS

UPSTREAMS = ("square", "shopify", "salesforce", "identity")


def write_chart(result: dict[str, Any], path: Path) -> None:
    samples = result["samples"]
    minutes = [s["t"] / 60 for s in samples]
    figure = Figure(figsize=(10, 9), layout="constrained")
    memory, connections, latency = figure.subplots(3, 1, sharex=True)
    summary = result["summary"]

    memory.plot(minutes, [s["rss_bytes"] / 2**20 for s in samples], color="tab:blue")
    rss = summary["rss_mb"]
    memory.set_title(
        f"gateway worker RSS: {rss['start']} MB after the first window, {rss['end']} MB at "
        f"the end, max {rss['max']} MB; slope {rss['slope_mb_per_hour']} MB/h",
        fontsize=10,
    )
    memory.set_ylabel("RSS (MB)")
    memory.set_ylim(bottom=0)
    memory.grid(alpha=0.3)

    def count(sample: dict[str, Any], *names: str) -> int:
        return sum(sample["connections"].get(name, 0) for name in names)

    lines = {
        "open descriptors": [s["open_fds"] for s in samples],
        "client sockets": [count(s, "client") for s in samples],
        "MongoDB": [count(s, "mongodb") for s in samples],
        "upstreams": [count(s, *UPSTREAMS) for s in samples],
        "CLOSE_WAIT": [count(s, "close_wait") for s in samples],
    }
    for label, values in lines.items():
        connections.plot(minutes, values, label=label)
    connections.set_ylabel("count")
    connections.set_ylim(bottom=0)
    connections.set_title("open descriptors and TCP connections by peer", fontsize=10)
    connections.legend(fontsize=8, loc="upper left", ncols=5)
    connections.grid(alpha=0.3)

    for kind in KINDS:
        points = [
            (m, s["traffic"][kind]["p99_ms"])
            for m, s in zip(minutes, samples, strict=True)
            if s["traffic"][kind]["p99_ms"] is not None
        ]
        if points:
            latency.plot(*zip(*points, strict=True), label=kind, marker=".", markersize=3)
    latency.set_ylim(bottom=0)
    latency.set_ylabel("p99 per window (ms)")
    latency.set_xlabel("minutes")
    errors = summary["errors"]
    latency.set_title(
        f"p99 of each {result['sample_seconds']:g} s window by traffic kind; "
        f"{summary['requests']} requests, {errors} errors",
        fontsize=10,
    )
    latency.legend(fontsize=8, loc="upper left", ncols=5)
    latency.grid(alpha=0.3)

    figure.suptitle(result["title"], fontsize=11)
    figure.savefig(path, dpi=100)
