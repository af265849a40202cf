"""Shaping errors for clients: a stable `extensions.code` on every error, internals masked.

commerce.errors.PublicError   the client's mistakes and the domain's refusals, with their code
└── BadUserInput          BAD_USER_INPUT: an argument out of range or malformed (and the
connectors.errors.UpstreamError   UPSTREAM_* with `service`; the field is null
pymongo.errors.PyMongoError       DATABASE_UNAVAILABLE: omnigate's own MongoDB failed
Strawberry's operation type errors  BAD_REQUEST: an operation type the transport does not serve
anything else             masked as INTERNAL_SERVER_ERROR, logged with its trace
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from pymongo.errors import PyMongoError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from commerce.errors import BadUserInput, PublicError
from connectors.errors import UpstreamError

__all__ = ["DATABASE_UNAVAILABLE", "BadUserInput", "PublicError", "shape_errors"]

log = logging.getLogger(__name__)


DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
BAD_REQUEST = "BAD_REQUEST"


def shape_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Idempotent: an error shaped once keeps its message and code when shaped again."""
    return [_shaped(error) for error in errors]


def _shaped(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, UpstreamError):
        message = original.public_message
        extensions: dict[str, Any] = {"code": original.code, "service": original.service}
        log.warning("upstream failure at %s: %s", error.path, original)
    elif isinstance(original, PublicError):
        message = str(original)
        extensions = {"code": original.code, **original.extensions}
    elif isinstance(original, PyMongoError):
        # omnigate's own store (carts, wishlists, checkouts) did not answer
        message = "The gateway's database did not answer; try again."
        extensions = {"code": DATABASE_UNAVAILABLE}
        log.warning("MongoDB failure at %s: %s", error.path, original)
    elif isinstance(original, InvalidOperationTypeError | CannotGetOperationTypeError):
        # an operation type this transport does not serve (a query over the legacy
        # graphql-ws), or several operations and no operationName: the request's fault
        message = error.message
        extensions = {"code": BAD_REQUEST}
    elif original is None or isinstance(original, GraphQLError):
        # parse, validation and variable-coercion errors: the client's request is at fault
        message = error.message
        extensions = {"code": _request_error_code(error), **(error.extensions or {})}
    else:
        log.error("unexpected error at %s", error.path, exc_info=original)
        message = "Unexpected error."
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(
        message, nodes=error.nodes, source=error.source, positions=error.positions,
        path=error.path, extensions=extensions,
    )  # fmt: skip


def _request_error_code(error: GraphQLError) -> str:
    if error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"
