"""The media types /graphql answers in, and how a request's Accept picks one (GraphQL over
HTTP; docs/graphql-over-http.md).

`application/json` every client reads, and a request without Accept gets it;
`application/graphql-response+json`'s status codes also say whether the request was
executed (4xx on a parse, validation or variable-coercion failure). The client's Accept
picks by RFC 9110's rules: the highest q wins, then the more specific range
(`application/json` over `application/*` over `*/*`), then the range the client listed
first; `*/*` alone gets `application/json`, as the spec's legacy clients expect.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

APPLICATION_JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# ties between equally specific ranges of equal q go to the first: legacy clients that
# send `*/*` read application/json
OFFERED = (APPLICATION_JSON, GRAPHQL_RESPONSE_JSON)
CONTENT_TYPES = {
    APPLICATION_JSON: APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON + "; charset=utf-8",
}
# where the middleware leaves the negotiated type for the view and the refusals
SCOPE_KEY = "omnigate.media_type"


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    q: float
    order: int

    def specificity(self, media_type: str) -> int | None:
        """How closely this range names `media_type` (2 exactly, 1 `type/*`, 0 `*/*`), or
        None when it does not match it."""
        type_, _, subtype = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 0
        if self.type != type_:
            return None
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == subtype else None


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    ranges = _ranges(accept)
    best: tuple[tuple[float, int, int, int], str] | None = None
    for preference, media_type in enumerate(OFFERED):
        matches = [(r.specificity(media_type), r) for r in ranges]
        found = [(s, r) for s, r in matches if s is not None]
        if not found:
            continue
        # the most specific matching range alone speaks for this type (RFC 9110 12.5.1)
        specificity, chosen = max(found, key=lambda m: (m[0], -m[1].order))
        if chosen.q <= 0:
            continue
        key = (chosen.q, specificity, -chosen.order, -preference)
        if best is None or key > best[0]:
            best = (key, media_type)
    return best[1] if best else None


def _ranges(accept: str) -> list[_Range]:
    ranges = []
    for order, item in enumerate(accept.split(",")):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        type_, slash, subtype = media_range.lower().partition("/")
        if not slash or not type_ or not subtype or (type_ == "*" and subtype != "*"):
            continue  # not a media range: ignored, as a malformed list member
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                break
        if 0 <= q <= 1:
            ranges.append(_Range(type_, subtype, q, order))
    return ranges


def media_type_of(scope: Scope) -> str:
    """The type negotiated for this request; application/json where nothing negotiated."""
    media_type: str = scope.get(SCOPE_KEY, APPLICATION_JSON)
    return media_type


def content_type_of(scope: Scope) -> str:
    """The Content-Type header of this request's GraphQL answers."""
    return CONTENT_TYPES[media_type_of(scope)]
