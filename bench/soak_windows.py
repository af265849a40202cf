"""The soak's outcomes, gathered per sampling window, and the run's summary from its samples
(bench/soak.py)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.cart_load import percentile

KINDS = ("product", "cart_write", "checkout", "profile", "subscription")


@dataclass
class Window:
    """What the traffic saw since the last sample: each kind's latencies (seconds, errors
    included) and its errors by code."""

    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def figures(self) -> dict[str, dict[str, Any]]:
        figures = {}
        for kind in KINDS:
            ordered = sorted(self.latencies.get(kind, []))
            figures[kind] = {
                "count": len(ordered),
                "p50_ms": round(percentile(ordered, 0.50) * 1000, 1) if ordered else None,
                "p99_ms": round(percentile(ordered, 0.99) * 1000, 1) if ordered else None,
                "errors": dict(sorted(self.errors.get(kind, Counter()).items())),
            }
        return figures


class Outcomes:
    """Every traffic loop records here; the sampler takes the window each sample. All of the
    run's latencies are kept too, for the whole run's percentiles."""

    def __init__(self) -> None:
        self.window = Window()
        self.all_latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.all_errors: Counter[str] = Counter()

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        self.window.latencies[kind].append(seconds)
        self.all_latencies[kind].append(seconds)
        if error is not None:
            self.error(kind, error)

    def error(self, kind: str, code: str) -> None:
        """An error with no latency of its own (a subscription that never completed)."""
        self.window.errors[kind][code] += 1
        self.all_errors[f"{kind}:{code}"] += 1

    def take(self) -> Window:
        window, self.window = self.window, Window()
        return window


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """The least-squares slope of (seconds, value) points, in value per hour."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600


def _mb(value: float) -> float:
    return round(value / 2**20, 1)


def window_p99_medians(samples: list[dict[str, Any]], kind: str) -> dict[str, float | None]:
    """The median of the windows' p99 over the first and the last tenth of the run: one
    window's p99 is a handful of requests on a shared machine, a tenth of them is steadier."""
    tenth = max(1, len(samples) // 10)
    medians: dict[str, float | None] = {}
    for name, part in (("first", samples[:tenth]), ("last", samples[-tenth:])):
        values = [s["traffic"][kind]["p99_ms"] for s in part]
        present = [v for v in values if v is not None]
        medians[f"window_p99_ms_median_{name}_tenth"] = (
            round(statistics.median(present), 1) if present else None
        )
    return medians


def _share(before: dict[str, Any], after: dict[str, Any], process: str) -> float:
    key = f"{process}_cpu_seconds"
    return round((after[key] - before[key]) / max(after["t"] - before["t"], 1e-9), 3)


def summarise(
    idle: dict[str, Any], samples: list[dict[str, Any]], outcomes: Outcomes
) -> dict[str, Any]:
    """Memory, descriptors, connections and latency at the start and end of the run, and how
    fast memory moved. `samples` are the ones taken under traffic, the first at the end of
    the first window."""
    first, last = samples[0], samples[-1]
    rss = [(s["t"], s["rss_bytes"]) for s in samples]
    second_half = [(t, v) for t, v in rss if t >= last["t"] / 2]
    slope = slope_per_hour(rss)
    slope_late = slope_per_hour(second_half)
    latency = {}
    for kind in KINDS:
        ordered = sorted(outcomes.all_latencies.get(kind, []))
        latency[kind] = {
            "count": len(ordered),
            "p50_ms": round(percentile(ordered, 0.50) * 1000, 1) if ordered else None,
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 1) if ordered else None,
            "p99_ms_first_window": first["traffic"][kind]["p99_ms"],
            "p99_ms_last_window": last["traffic"][kind]["p99_ms"],
            **window_p99_medians(samples, kind),
        }
    return {
        "seconds": last["t"],
        "samples": len(samples),
        "rss_mb": {
            "idle_before_traffic": _mb(idle["rss_bytes"]),
            "start": _mb(first["rss_bytes"]),
            "end": _mb(last["rss_bytes"]),
            "max": _mb(max(v for _, v in rss)),
            "min": _mb(min(v for _, v in rss)),
            "slope_mb_per_hour": None if slope is None else round(slope / 2**20, 2),
            "slope_mb_per_hour_second_half": (
                None if slope_late is None else round(slope_late / 2**20, 2)
            ),
        },
        "open_fds": {
            "idle_before_traffic": idle["open_fds"],
            "start": first["open_fds"],
            "end": last["open_fds"],
            "max": max(s["open_fds"] for s in samples),
        },
        "connections": {
            "start": first["connections"],
            "end": last["connections"],
            "max_total": max(sum(s["connections"].values()) for s in samples),
        },
        "threads": {"start": first["threads"], "end": last["threads"]},
        # share of one core, over the run and in the first and last windows: the gateway
        # worker's and the simulators' (other work on the machine shows in the latencies)
        "cpu_share": {
            process: {
                "run": _share(idle, last, process),
                "first_window": _share(idle, first, process),
                "last_window": _share(samples[-2] if len(samples) > 1 else idle, last, process),
            }
            for process in ("gateway", "sandbox")
        },
        "loadavg_1m": {
            "min": min(s["loadavg_1m"] for s in samples),
            "max": max(s["loadavg_1m"] for s in samples),
        },
        "latency": latency,
        "requests": sum(len(v) for v in outcomes.all_latencies.values()),
        "errors": sum(outcomes.all_errors.values()),
        "errors_by_kind_and_code": dict(sorted(outcomes.all_errors.items())),
    }
