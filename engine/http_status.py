"""The HTTP status of a GraphQL answer in `application/graphql-response+json` (GraphQL over
HTTP, docs/graphql-over-http.md).

An answer with a `data` entry is 200 whatever its errors: execution began, so the request
was well formed and fields are the ones that failed (`data` may even be null, when a
non-null root field failed). An answer without one was refused before execution: a parse,
validation or variable-coercion failure is the client's (400); one that says the gateway
itself failed keeps a 5xx so that retrying clients and load balancers read it as such.

`application/json` answers stay 200 for every well-formed request, as the spec asks of
that media type (its clients read errors from the body, never from the status).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from strawberry.types import ExecutionResult

from engine.errors import DATABASE_UNAVAILABLE

# codes the error shaping gives failures that are not the client's (engine/errors.py)
SERVER_FAILURE_STATUS = {
    "INTERNAL_SERVER_ERROR": 500,
    DATABASE_UNAVAILABLE: 503,
    "UPSTREAM_UNAVAILABLE": 503,
    "UPSTREAM_THROTTLED": 503,
    "UPSTREAM_TIMEOUT": 504,
}
CLIENT_FAILURE_STATUS = 400


def execution_began(result: ExecutionResult) -> bool:
    """False when the errors came before execution: no data, and no error at a field."""
    if result.data is not None or not result.errors:
        return True
    return any(error.path is not None for error in result.errors)


def unexecuted_status(errors: Iterable[object]) -> int:
    """The status of an answer without `data`, from its (formatted) errors' codes."""
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, Mapping) else None
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        if isinstance(code, str) and code in SERVER_FAILURE_STATUS:
            return SERVER_FAILURE_STATUS[code]
    return CLIENT_FAILURE_STATUS
