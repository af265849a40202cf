"""What one process holds right now, read from /proc: its resident memory, its open file
descriptors, and its TCP connections sorted by whom they reach (bench/soak.py samples the
gateway worker with it).

A socket descriptor is a link `socket:[INODE]`; /proc/PID/net/tcp and tcp6 list every TCP
socket of the process's network namespace with its inode, addresses and state, so the
inodes the process holds pick its own out of that list. A connection is sorted by its
ports: the gateway's own listening port on the local side is a client's connection; a
known peer's port on the remote side is MongoDB or an upstream.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# /proc/net/tcp's `st` column (include/net/tcp_states.h)
ESTABLISHED = "01"
CLOSE_WAIT = "08"
LISTEN = "0A"


@dataclass(frozen=True)
class TcpSocket:
    local_port: int
    remote_port: int
    state: str


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def tcp_sockets(pid: int) -> dict[int, TcpSocket]:
    """Every TCP socket of `pid`'s network namespace, by inode."""
    found: dict[int, TcpSocket] = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            found[int(fields[9])] = TcpSocket(_port(fields[1]), _port(fields[2]), fields[3])
    return found


def socket_inodes(pid: int) -> tuple[int, list[int]]:
    """How many descriptors `pid` has open, and the inodes of those that are sockets."""
    fd_dir = f"/proc/{pid}/fd"
    inodes = []
    names = os.listdir(fd_dir)
    for name in names:
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except FileNotFoundError:  # closed between the listing and the read
            continue
        if target.startswith("socket:["):
            inodes.append(int(target[8:-1]))
    return len(names), inodes


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"no VmRSS for {pid}")


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class ProcessProbe:
    """Samples one process. `listen_port`: the port it serves on; `peers`: port -> the name
    of what listens there (mongodb, shopify, ...), for the connections it opens."""

    def __init__(self, pid: int, listen_port: int, peers: dict[int, str]) -> None:
        self.pid = pid
        self.listen_port = listen_port
        self.peers = peers

    def connections(self) -> tuple[int, Counter[str]]:
        """Open descriptors, and the TCP connections by kind: `client` (to the served
        port), each peer's name, `other` (any other TCP peer), `listen`, and `close_wait`
        (the peer hung up, this process has not closed its end: a leak if it grows)."""
        descriptors, inodes = socket_inodes(self.pid)
        table = tcp_sockets(self.pid)
        kinds: Counter[str] = Counter()
        for inode in inodes:
            sock = table.get(inode)
            if sock is None:
                kinds["unix_or_other_socket"] += 1
            elif sock.state == LISTEN:
                kinds["listen"] += 1
            elif sock.state == CLOSE_WAIT:
                kinds["close_wait"] += 1
            elif sock.local_port == self.listen_port:
                kinds["client"] += 1
            else:
                kinds[self.peers.get(sock.remote_port, "other")] += 1
        return descriptors, kinds

    def sample(self) -> dict[str, object]:
        descriptors, kinds = self.connections()
        return {
            "rss_bytes": rss_bytes(self.pid),
            "threads": thread_count(self.pid),
            "open_fds": descriptors,
            "connections": dict(sorted(kinds.items())),
        }
