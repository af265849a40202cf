"""Checks of an upstream's configuration: one harmless read that either works or says
exactly what is wrong (`omnigate check-upstreams`, docs/vendors/).

A vendor's check (`connectors/<vendor>/check.py`) returns what it saw when the read
works, or raises `CheckFailed`: the problem in an operator's words and the fields of the
vendor's settings section to look at. `call_failed` turns the failure of the read into
that, by what happened: no connection (the URL), no answer in time, the credentials
refused (401) or short of a permission (403), no such API (404), throttled.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence

from connectors.errors import UpstreamError, UpstreamThrottled, UpstreamTimeout, UpstreamUnavailable


class CheckFailed(Exception):
    def __init__(self, problem: str, fields: Sequence[str] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fields = tuple(fields)


def call_failed(
    error: UpstreamError,
    *,
    url_field: str,
    credentials: Sequence[str],
    permissions: str,
    not_found: Sequence[str] = (),
) -> CheckFailed:
    """`permissions`: what the credentials need, named as the vendor names it;
    `not_found`: the fields besides the URL that make the path a 404 answers."""
    detail = error.detail or error.code
    if isinstance(error, UpstreamUnavailable) and not error.sent:
        return CheckFailed(f"no connection: {connect_reason(error)}", (url_field,))
    if isinstance(error, UpstreamTimeout):
        return CheckFailed(f"no answer in time ({detail})", (url_field,))
    if isinstance(error, UpstreamThrottled):
        return CheckFailed(f"throttled by the vendor, try again later ({detail})")
    status = error.status
    if status == 401:
        return CheckFailed(f"the credentials were refused ({detail})", credentials)
    if status == 403:
        return CheckFailed(
            f"the credentials lack a permission omnigate needs: {permissions} ({detail})",
            credentials,
        )
    if status == 404:
        return CheckFailed(
            f"no such API here ({detail}): is it the vendor's API URL?", (url_field, *not_found)
        )
    if status is not None and status >= 500:
        return CheckFailed(f"the vendor failed to answer ({detail})")
    if status is None and isinstance(error, UpstreamUnavailable):
        return CheckFailed(f"not answered as the vendor's API answers ({detail})", (url_field,))
    return CheckFailed(f"the read was refused ({detail})")


def connect_reason(error: BaseException) -> str:
    """Why no connection could be made, from the first OS-level cause in the chain."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(cause, socket.gaierror):
            return f"the host name does not resolve: {cause.strerror}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
        if isinstance(cause, TimeoutError):
            return "the connection timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return str(error.__cause__ or error)
