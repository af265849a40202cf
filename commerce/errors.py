"""Refusals a client may read: each carries a stable `code`, and the GraphQL layer shows its
message and extensions as they are (engine/errors.py), where anything else is masked.

PublicError               the client's own mistake, or a refusal the domain decided
├── BadUserInput          BAD_USER_INPUT: an argument out of range or malformed
└── FieldRefusal          a valid principal that may not read or change this
    ├── Unauthenticated   UNAUTHENTICATED: needs a signed-in customer (or staff) and there is none
    ├── Forbidden         FORBIDDEN: signed in, but this kind of principal may not
    └── NotFound          NOT_FOUND: another customer's data, answered as if it did not exist
"""

from __future__ import annotations

from typing import Any

UNAUTHENTICATED = "UNAUTHENTICATED"


class PublicError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = extensions


class BadUserInput(PublicError):
    code = "BAD_USER_INPUT"


class FieldRefusal(PublicError):
    def __init__(self, message: str, **extensions: object) -> None:
        # the code rides in the extensions too: graphql-core copies an original error's
        # `extensions` onto the GraphQL error, so it is there even where the errors are
        # not shaped (results streamed over a websocket)
        super().__init__(message, code=self.code, **extensions)


class Unauthenticated(FieldRefusal):
    code = UNAUTHENTICATED


class Forbidden(FieldRefusal):
    code = "FORBIDDEN"


class NotFound(FieldRefusal):
    code = "NOT_FOUND"
