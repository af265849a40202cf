"""Per vendor set, how many behavioural tests ran and the time they took (setup, the test,
teardown), for the run's summary. Each test's report carries its set as a user property,
which pytest-xdist hands from the workers to the controller with the report."""

from __future__ import annotations

from collections import Counter
from typing import Any

PROPERTY = "vendor_set"

_tests: Counter[str] = Counter()
_seconds: Counter[str] = Counter()


def record(report: Any) -> None:
    """Called with every test report (pytest_runtest_logreport)."""
    chosen = dict(report.user_properties).get(PROPERTY)
    if chosen is None:
        return
    _seconds[chosen] += report.duration
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _tests[chosen] += 1


def summary_lines() -> list[str]:
    return [
        f"behaviour, vendor set {name}: {_tests[name]} tests in {_seconds[name]:.1f} s"
        for name in sorted(_tests)
    ]
