"""Whole HTTP/1.1 requests out of a connection's buffer, for the benchmarks' minimal
upstream servers (bench/transport_calls.py, bench/recorded_upstreams.py). Only what the
gateway sends: a head, then a body of Content-Length bytes (no chunked bodies)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WholeRequest:
    line: bytes  # b"POST /v2/x HTTP/1.1"
    headers: list[tuple[bytes, bytes]]
    body: bytes


def take_request(buffer: bytes) -> tuple[WholeRequest, bytes] | None:
    """The first whole request in `buffer` and what follows it; None until one is whole."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    line, *header_lines = buffer[:end].split(b"\r\n")
    headers = []
    for header in header_lines:
        name, _, value = header.partition(b":")
        headers.append((name.strip(), value.strip()))
    length = next((int(v) for n, v in headers if n.lower() == b"content-length"), 0)
    if len(buffer) < end + 4 + length:
        return None
    body = buffer[end + 4 : end + 4 + length]
    return WholeRequest(line, headers, body), buffer[end + 4 + length :]
