"""CSRF prevention as Apollo Router does it, as plain ASGI middleware.

A browser sends a "simple" request cross-origin without asking the CORS policy first. So an
operation is run only if its request could not have been simple: its Content-Type parses as
a MIME type other than application/x-www-form-urlencoded, multipart/form-data and text/plain
(so a JSON POST passes), or it carries a non-empty `x-apollo-operation-name`,
`apollo-require-preflight` or `x-omnigate-csrf` header, which only script sets, and setting
it forces a preflight. No Content-Type (a GET) or one that does not parse counts as simple.
A GET with no `query` and no `extensions` parameter runs nothing (it asks for GraphiQL's
page), so it passes untouched.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.limits.http_refusal import send_refusal

CSRF_PREVENTED = "CSRF_PREVENTED"
SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
PREFLIGHT_HEADERS = (b"x-apollo-operation-name", b"apollo-require-preflight", b"x-omnigate-csrf")
# RFC 9110 token "/" token: the MIME type's essence
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_ESSENCE = re.compile(rf"^({_TOKEN}/{_TOKEN})\s*(;.*)?$", re.S)

MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Send a Content-Type that is not one of "
    + ", ".join(sorted(SIMPLE_CONTENT_TYPES))
    + ", or a non-empty "
    + ", ".join(h.decode() for h in PREFLIGHT_HEADERS)
    + " header."
)


class CsrfPrevention:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _may_run(scope):
            await send_refusal(scope, send, 400, CSRF_PREVENTED, MESSAGE)
            return
        await self.app(scope, receive, send)


def _may_run(scope: Scope) -> bool:
    content_types: list[bytes] = []
    for name, value in scope["headers"]:
        if name in PREFLIGHT_HEADERS and value.strip():
            return True
        if name == b"content-type":
            content_types.append(value)
    if content_types and _preflighted_content_type(content_types):
        return True
    return scope["method"] == "GET" and not names_an_operation(scope["query_string"])


def _preflighted_content_type(values: list[bytes]) -> bool:
    # several headers combine as one list, which is no single MIME type: simple, as in Router
    joined = ", ".join(v.decode("latin-1").strip().replace("\t", " ") for v in values)
    match = _ESSENCE.match(joined)
    return match is not None and match.group(1).lower() not in SIMPLE_CONTENT_TYPES


def names_an_operation(query_string: bytes) -> bool:
    """Whether a GET's query string asks to run something (`query` or a persisted hash)."""
    if not query_string:
        return False
    params = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    return "query" in params or "extensions" in params
