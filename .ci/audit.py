"""pip-audit over a hashed lock: every pinned distribution, none left unchecked.

    python .ci/audit.py [--if-reachable] LOCK

pip-audit looks each release up in a vulnerability service: PyPI's per-release JSON
(https://pypi.org/pypi/NAME/VERSION/json, its default) or OSV (https://api.osv.dev). This
asks each for one release of the lock first and audits with the first that answers, with
--strict, so a distribution it cannot look up fails the audit instead of passing unseen
(without --strict pip-audit skips it and exits 0).

Where neither service answers (a network that reaches only the registries' package files,
as this project's CI machines do), it says so and fails; with --if-reachable it says so and
exits 0, so that the rest of CI still runs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def probe_pypi(name: str, version: str) -> str | None:
    """None when the service answers for this release, else what happened."""
    return _answer(urllib.request.Request(f"https://pypi.org/pypi/{name}/{version}/json"))


def probe_osv(name: str, version: str) -> str | None:
    query = {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
    request = urllib.request.Request(
        "https://api.osv.dev/v1/query",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
    )
    return _answer(request)


def _answer(request: urllib.request.Request) -> str | None:
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            json.load(response)
    except urllib.error.HTTPError as exc:
        return f"{request.full_url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{request.full_url}: {reason}"
    return None


SERVICES = {"pypi": probe_pypi, "osv": probe_osv}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument(
        "--if-reachable",
        action="store_true",
        help="exit 0 with a notice when no vulnerability service answers",
    )
    args = parser.parse_args()
    pins = PIN.findall(args.lock.read_text())
    if not pins:
        print(f"audit: {args.lock} pins nothing", file=sys.stderr)
        return 1
    name, version = pins[0]
    failures = []
    for service, probe in SERVICES.items():
        failure = probe(name, version)
        if failure is None:
            command = [
                sys.executable, "-m", "pip_audit", "--strict", "--progress-spinner", "off",
                "--vulnerability-service", service,
                "--disable-pip", "--require-hashes", "--requirement", str(args.lock),
            ]  # fmt: skip
            print(f"audit: {len(pins)} pins of {args.lock} against {service}", flush=True)
            return subprocess.run(command, check=False).returncode
        failures.append(f"    {service}: {failure}")
    print(
        f"audit: NOT RUN. No vulnerability service pip-audit uses answered from here for "
        f"{name} {version}, a release of {args.lock}:",
        *failures,
        sep="\n",
        file=sys.stderr,
    )
    return 0 if args.if_reachable else 1


if __name__ == "__main__":
    raise SystemExit(main())
