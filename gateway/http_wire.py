"""What the upstream transports put on the wire and what they take back from it.

Leans on one private attribute of httpx 0.29: an answer read here is stored as
`Response._content`, where `Response.read()` keeps it: a decoded one after it was counted
against the cap, a plain one as it came (read() would pass it through httpx's chunk
iterators and identity decoder, about 25 µs for a product page's 45 KB, twice a page).
httpx is pinned to its minor (pyproject.toml); the tests in tests/test_upstream_wire.py
read `.content` afterwards and fail if httpx keeps it elsewhere.

A request's head is checked as it is written: a method that is not a token, a header name
that is not a token, a control character (CR, LF, NUL and the rest of C0 and DEL; HTAB only
inside a header value) in a header value, or a space or control character in the request
target, would let the rest of the value be read as another header or another request
(header injection, request smuggling). Such a request is refused before any byte of it is
written or any connection is taken, with the `httpx.LocalProtocolError` httpx's own
transport (h11) raises for it, which the connectors report as a request the upstream would
refuse (`UpstreamRejected`), not as an outage. aiohttp refuses the same characters in names
and values. Leading or trailing spaces in a value are written as they are: a receiver
strips them (RFC 9110 5.5), which changes no meaning.

An answer is read whole into memory, so its size is capped: `ResponseTooLarge` (an
`httpx.RemoteProtocolError`, as h11 raises for a head past its buffer) when the body as
received passes `max_response_bytes` or the head MAX_HEAD_BYTES (the transport closes the
connection, whose framing is then unknown), or when the body passes `max_response_bytes`
as decoded (gzip, deflate).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx

# OMNIGATE_HTTP__MAX_RESPONSE_BYTES. The largest answer the sandbox gives is 48 KB and a
# full page of Salesforce contacts (2,000 records) a few MB; 16 answers at the cap fit in a
# quarter of the pod's 512 MiB.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# A status line and headers past this are refused: h11 and Node stop at 16 KiB, aiohttp at
# 8 KiB per line. Without it a head that never ends would be held in memory as it came.
MAX_HEAD_BYTES = 64 * 1024
# What an encoded answer is decoded in, per step: deflate expands a step at most about
# 1000-fold (to some 8 MiB here), and each step is counted before the next is decoded.
DECODE_STEP_BYTES = 8 * 1024

# RFC 9110 5.6.2: what a method and a header name may hold
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_NOT_TARGET = re.compile(rb"[^\x21-\x7e]")  # RFC 9112 3.2: visible ASCII, no space
_CONTROLS = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# every byte a head may hold outside its line ends: all but the controls (HTAB stays, for
# values); deleting these from a head leaves exactly its CRLFs if nothing else is there
_FIELD_BYTES = bytes(b for b in range(256) if b == 0x09 or 0x20 <= b <= 0x7E or b >= 0x80)
# tokens seen valid, so the common names cost a set lookup; bounded against a caller
# making up names per call
_KNOWN_TOKENS: set[bytes] = set()
_KNOWN_TOKENS_MAX = 1024
_CHARACTER_NAMES = {
    0x0D: "CR (\\r)",
    0x0A: "LF (\\n)",
    0x00: "NUL (\\0)",
    0x09: "HTAB (\\t)",
    0x20: "a space",
}


class ResponseTooLarge(httpx.RemoteProtocolError):
    """The upstream's answer is larger than the transport takes (`max_response_bytes`)."""


def request_head(request: httpx.Request) -> bytes:
    """The request line and headers as written on the wire, or `httpx.LocalProtocolError`
    when something in them would be read as more than it is (the module docstring)."""
    method = request.method.encode()
    target = request.url.raw_path
    fields = request.headers.raw
    lines = [b"%s %s HTTP/1.1\r\n" % (method, target)]
    for name, value in fields:
        if name not in _KNOWN_TOKENS and not _admit_token(name):
            raise _refusal(request)
        lines.append(b"%s: %s\r\n" % (name, value))
    lines.append(b"\r\n")
    head = b"".join(lines)
    if (
        head.translate(None, _FIELD_BYTES) != b"\r\n" * (len(fields) + 2)
        or (method not in _KNOWN_TOKENS and not _admit_token(method))
        or not target
        or b" " in target
        or b"\t" in target
        or not target.isascii()
    ):
        raise _refusal(request)
    return head


def _admit_token(value: bytes) -> bool:
    if _TOKEN.fullmatch(value) is None:
        return False
    if len(_KNOWN_TOKENS) < _KNOWN_TOKENS_MAX:
        _KNOWN_TOKENS.add(value)
    return True


def _refusal(request: httpx.Request) -> httpx.LocalProtocolError:
    url = request.url
    method = request.method.encode()
    fault = _fault(method, url.raw_path, request.headers.raw)
    # the method is named only if it is one: the message goes to logs, whole
    what = request.method if _TOKEN.fullmatch(method) else "a request"
    return httpx.LocalProtocolError(
        f"refused to send {what} to {url.scheme}://{url.netloc.decode('ascii')}: "
        f"{fault}; nothing was sent",
        request=request,
    )


def _fault(method: bytes, target: bytes, fields: Sequence[tuple[bytes, bytes]]) -> str:
    """Which part of a refused head is wrong, and with what. No value is quoted: a header
    value may be a credential, a target may hold a customer's details."""
    parts = [("the method", method, _NOT_TOKEN), ("the request target", target, _NOT_TARGET)]
    for name, value in fields:
        parts.append((f"the header name {name!r}", name, _NOT_TOKEN))
        shown = name.decode("ascii", "backslashreplace")
        parts.append((f"the value of the header {shown!r}", value, _CONTROLS))
    for where, value, outside in parts:
        if not value and outside is not _CONTROLS:
            return f"{where} is empty"
        if (found := outside.search(value)) is not None:
            byte = value[found.start()]
            what = _CHARACTER_NAMES.get(byte, f"the byte 0x{byte:02x}")
            return f"{where} holds {what} at offset {found.start()}"
    return "its head does not check"  # not reached: some part above fails


def whole_response(
    request: httpx.Request,
    status: int,
    reason: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    max_bytes: int,
    *,
    encoded: bool,
) -> httpx.Response:
    """An HTTP/1.1 answer read whole, as httpx's own transport describes it, its body
    already read and decoded (the sync read skips httpx's async iterators).

    `body` is the body as received, within `max_bytes` (the transport saw to that).
    `encoded`: the answer has a Content-Encoding. Its body is then decoded a step at a
    time and held to `max_bytes` as decoded, so a small gzip body cannot expand without
    bound."""
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if reason:
        extensions["reason_phrase"] = reason
    stream = _DecodeSteps(body) if encoded else httpx.ByteStream(body)
    response = httpx.Response(
        status, headers=headers, stream=stream, request=request, extensions=extensions
    )
    if not encoded:
        # as `response.read()` leaves it, without iterating a body that is already whole
        response._content = body
        response.is_stream_consumed = response.is_closed = True
        return response
    size = 0
    parts = []
    for part in response.iter_bytes():
        size += len(part)
        if size > max_bytes:
            # read whole and in step already: its connection may serve another call
            raise ResponseTooLarge(
                f"the upstream's answer decodes ({response.headers['content-encoding']}) "
                f"to over {max_bytes} bytes (OMNIGATE_HTTP__MAX_RESPONSE_BYTES)"
            )
        parts.append(part)
    # where `response.read()` keeps it (httpx 0.29, see the top), read here to count it
    response._content = b"".join(parts)
    return response


def body_too_large(max_bytes: int) -> ResponseTooLarge:
    """For a body past the cap as it comes: the transport closes the connection."""
    return ResponseTooLarge(
        f"the upstream's answer has a body over {max_bytes} bytes "
        "(OMNIGATE_HTTP__MAX_RESPONSE_BYTES); the connection was closed"
    )


def head_too_large() -> ResponseTooLarge:
    return ResponseTooLarge(
        f"the upstream's answer has a head over {MAX_HEAD_BYTES} bytes; the connection was closed"
    )


class _DecodeSteps(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An encoded body in steps of DECODE_STEP_BYTES. Both sync and async, as httpx's
    ByteStream: the client checks a response's stream is async, though the body is read
    already."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        body = self._body
        for start in range(0, len(body), DECODE_STEP_BYTES):
            yield body[start : start + DECODE_STEP_BYTES]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for step in self:
            yield step
