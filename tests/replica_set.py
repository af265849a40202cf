"""A real three-member replica set on loopback ports, for the failover tests.

Three `mongod` from the pinned wheel (gateway/local_mongod.py), each with its own data dir
and port on 127.0.0.1, initiated as one set. The tests kill a member with SIGKILL (as a
crashed host would vanish), ask the primary to step down, restart a killed member, and read
who is primary; the gateway under test only ever sees the set through its URI.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from gateway.local_mongod import free_port, logged_errors, spawn_mongod

NAME = "rs-failover"
PRIMARY, SECONDARY = 1, 2  # replSetGetStatus member states


class ReplicaSetError(RuntimeError):
    pass


class ReplicaSet:
    """`with ReplicaSet(root, election_timeout_ms=5000) as rs: rs.uri` — three members."""

    def __init__(self, root: Path, *, members: int = 3, election_timeout_ms: int = 10_000):
        self.root = root
        self.ports = [free_port() for _ in range(members)]
        self.election_timeout_ms = election_timeout_ms
        self._processes: list[subprocess.Popen[bytes] | None] = [None] * members

    @property
    def uri(self) -> str:
        """The URI a gateway uses: every member and the set's name, so it follows elections."""
        hosts = ",".join(self.host(i) for i in range(len(self.ports)))
        return f"mongodb://{hosts}/?replicaSet={NAME}"

    def host(self, member: int) -> str:
        return f"127.0.0.1:{self.ports[member]}"

    def start(self, timeout: float = 90.0) -> None:
        for member in range(len(self.ports)):
            self._spawn(member)
        try:
            self._initiate()
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, member: int) -> None:
        data_dir = self.root / f"member{member}"
        data_dir.mkdir(parents=True, exist_ok=True)
        with (data_dir / "mongod.out").open("ab") as output:
            self._processes[member] = spawn_mongod(
                data_dir, self.ports[member], data_dir / "mongod.log", output, NAME
            )

    def _initiate(self) -> None:
        # The last member may vote but never be elected: when the primary is lost, one
        # secondary stands, so the election never splits its vote between two candidates
        # (MongoDB then holds it again after another election timeout; these tests are
        # about the gateway, not about the vote).
        last = len(self.ports) - 1
        members = [
            {"_id": i, "host": self.host(i), "priority": 0 if i == last else 1}
            for i in range(len(self.ports))
        ]
        config = {
            "_id": NAME,
            "members": members,
            "settings": {"electionTimeoutMillis": self.election_timeout_ms},
        }
        deadline = time.monotonic() + 30
        while True:
            self._check_alive()
            try:
                with self._direct(0) as client:
                    client.admin.command("replSetInitiate", config)
                return
            except PyMongoError as exc:
                if time.monotonic() > deadline:
                    raise ReplicaSetError(f"could not initiate the set: {exc}") from exc
                time.sleep(0.2)

    def _direct(self, member: int, timeout_ms: int = 2000) -> MongoClient[dict[str, Any]]:
        return MongoClient(
            f"mongodb://{self.host(member)}/?directConnection=true",
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=max(timeout_ms, 70_000),
        )

    def status(self) -> dict[str, Any]:
        """replSetGetStatus from the first member that answers."""
        for member in self._alive_members():
            try:
                with self._direct(member, 1000) as client:
                    return dict(client.admin.command("replSetGetStatus"))
            except PyMongoError:
                continue
        raise ReplicaSetError("no member answers")

    def primary(self) -> int | None:
        """The member that is primary now, by its own word (None during an election)."""
        for member in self._alive_members():
            try:
                with self._direct(member, 1000) as client:
                    if client.admin.command("hello").get("isWritablePrimary"):
                        return member
            except PyMongoError:
                continue
        return None

    def wait_healthy(self, timeout: float = 90.0) -> int:
        """Until every member is up and either primary or secondary; the primary."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                states = [m["state"] for m in self.status()["members"]]
            except (PyMongoError, ReplicaSetError):
                states = []
            primary = self.primary()
            if (
                primary is not None
                and len(states) == len(self.ports)
                and states.count(PRIMARY) == 1
                and states.count(SECONDARY) == len(self.ports) - 1
            ):
                return primary
            if time.monotonic() > deadline:
                raise ReplicaSetError(f"the set is not healthy after {timeout} s: {states}")
            time.sleep(0.25)

    def set_election_timeout(self, milliseconds: int) -> None:
        primary = self.wait_healthy()
        with self._direct(primary) as client:
            config = client.admin.command("replSetGetConfig")["config"]
            config["settings"]["electionTimeoutMillis"] = milliseconds
            config["version"] += 1
            client.admin.command("replSetReconfig", config)
        self.election_timeout_ms = milliseconds

    def kill(self, member: int) -> None:
        """SIGKILL: no shutdown, no step-down, connections reset by the kernel."""
        process = self._processes[member]
        assert process is not None, f"member {member} is not running"
        assert process.poll() is None, f"member {member} has exited"
        process.send_signal(signal.SIGKILL)
        process.wait()
        self._processes[member] = None

    def restart(self, member: int) -> None:
        assert self._processes[member] is None, f"member {member} is running"
        self._spawn(member)

    def step_down(self, member: int, seconds: int = 30) -> None:
        """The primary steps down and may not stand again for `seconds`."""
        with self._direct(member, 5000) as client:
            try:
                client.admin.command("replSetStepDown", seconds, secondaryCatchUpPeriodSecs=5)
            except OperationFailure as exc:
                raise ReplicaSetError(f"member {member} did not step down: {exc}") from exc

    def unfreeze(self, member: int) -> None:
        """Lets a member that stepped down stand for election again at once."""
        with self._direct(member, 5000) as client:
            client.admin.command("replSetFreeze", 0)

    def _alive_members(self) -> list[int]:
        return [i for i, p in enumerate(self._processes) if p is not None and p.poll() is None]

    def _check_alive(self) -> None:
        for member, process in enumerate(self._processes):
            if process is not None and process.poll() is not None:
                log = self.root / f"member{member}" / "mongod.log"
                errors = "; ".join(logged_errors(log, 0))
                raise ReplicaSetError(f"member {member} exited with {process.returncode}: {errors}")

    def stop(self) -> None:
        """Every member killed at once: the data is thrown away, and a clean shutdown of a
        set takes a primary up to ten seconds of waiting for its secondaries."""
        for process in self._processes:
            if process is not None:
                process.kill()
        for member, process in enumerate(self._processes):
            if process is not None:
                process.wait()
                self._processes[member] = None

    def __enter__(self) -> ReplicaSet:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
