"""Starting the pieces a benchmark measures, each in its own process so the gateway's CPU
time is its own: a real mongod, the sandbox vendors, and the gateway (one worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.local_mongod import LocalMongod, free_port, stop_process


@dataclass(frozen=True)
class Stack:
    gateway_url: str
    gateway_pid: int
    sandbox_pid: int
    identity_url: str
    mongod_port: int
    # what the gateway was told to call, by name: square, shopify, salesforce, identity
    upstream_urls: dict[str, str]


def _wait_until(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@dataclass(frozen=True)
class Sandbox:
    urls: dict[str, str]  # vendor -> base URL
    pid: int


@contextmanager
def running_sandbox(*, scale: float) -> Iterator[Sandbox]:
    """The vendor simulators and the identity provider in one process, each on a free
    port, so that two runs (or a bench beside `make run`) never meet (Shopify unthrottled:
    the gateway is measured, not Shopify's bucket)."""
    vendors = ("square", "shopify", "salesforce", "hubspot", "identity")
    ports = {vendor: free_port() for vendor in vendors}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "gateway", "sandbox", "--unthrottled", "--scale", str(scale),
         *[f"--{vendor}-port={port}" for vendor, port in ports.items()]],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until(f"http://127.0.0.1:{ports['shopify']}/_sandbox/calls", sandbox)
        urls = {vendor: f"http://127.0.0.1:{port}" for vendor, port in ports.items()}
        yield Sandbox(urls, sandbox.pid)
    finally:
        stop_process(sandbox)


@contextmanager
def recorded_upstreams(
    sandbox: Sandbox, vendors: tuple[str, ...], delay_ms: float = 0.0
) -> Iterator[dict[str, str]]:
    """A bench.recorded_upstreams process in front of `vendors` of the sandbox: their URLs
    there, each answering a repeated request from memory (`delay_ms` after it came)."""
    ports = {vendor: free_port() for vendor in vendors}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.recorded_upstreams", f"--delay-ms={delay_ms}",
         *[f"--listen={v}={port}={sandbox.urls[v]}" for v, port in ports.items()]],
    )  # fmt: skip
    try:
        urls = {vendor: f"http://127.0.0.1:{port}" for vendor, port in ports.items()}
        _wait_until(urls["shopify"] + "/_sandbox/calls", process)
        yield urls
    finally:
        stop_process(process)


@contextmanager
def running_stack(
    data_dir: Path,
    *,
    scale: float,
    transport: str | None = None,
    recorded: bool = False,
    hop_delay_ms: float = 0.0,
) -> Iterator[Stack]:
    """`transport`: OMNIGATE_HTTP__TRANSPORT; by default the gateway's own default.
    `recorded`: the gateway reaches Square and Shopify through bench.recorded_upstreams,
    which answers a request it has seen from memory (for read-only load), each
    `hop_delay_ms` after it came."""
    gateway_port = free_port()
    with (
        LocalMongod(data_dir / "mongodb") as mongod,
        running_sandbox(scale=scale) as sandbox,
        (
            recorded_upstreams(sandbox, ("square", "shopify"), hop_delay_ms)
            if recorded
            else nullcontext(sandbox.urls)
        ) as urls,
    ):
        env = {
            **os.environ,
            "OMNIGATE_ENV": "test",
            "OMNIGATE_MONGODB_URI": mongod.uri,
            **({"OMNIGATE_HTTP__TRANSPORT": transport} if transport else {}),
            "OMNIGATE_SQUARE__BASE_URL": urls["square"],
            "OMNIGATE_SHOPIFY__BASE_URL": urls["shopify"],
            "OMNIGATE_SALESFORCE__LOGIN_URL": sandbox.urls["salesforce"],
            "OMNIGATE_AUTH__ISSUER": sandbox.urls["identity"],
        }
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{gateway_port}"
            _wait_until(url + "/healthz", gateway)
            yield Stack(
                url,
                gateway.pid,
                sandbox.pid,
                sandbox.urls["identity"],
                mongod.port,
                {**sandbox.urls, **urls},
            )
        finally:
            stop_process(gateway)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")
