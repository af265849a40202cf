"""What a resolver tells the client about data it returns anyway.

GraphQL has one channel for trouble, `errors`, and raising fills it but nulls the field.
Some answers need to keep their data and still say something:

- an error entry at a field's path while the field keeps its value: `STALE_DATA`, a cached
  copy served because its upstream failed (the client should not take it as current);
- a warning in the response's `extensions.warnings`: `[{code, message, path, ...}]`, for
  data that is right but was obtained in a degraded way (`CACHE_UNAVAILABLE`) or is being
  revalidated (`STALE_WHILE_REVALIDATE`). Warnings are not errors: clients that drop the
  data of any response with errors (Apollo's default error policy) keep it.

engine/operation.py collects both per operation (in `current_notices`, a context variable
the tasks of one execution share) and adds them to the result, or, for a subscription, to
the event being sent; `add_error` and `add_warning` are what resolvers call. Outside an
operation (a unit test) they do nothing.

A subscription that must send one event as an error without ending its stream yields
`field_error(exc)`: the event's field is null with that error at its path, and the stream
goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

Path = Sequence[str | int]


@dataclass(slots=True)
class Notices:
    errors: list[GraphQLError] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


current_notices: ContextVar[Notices | None] = ContextVar("omnigate_response_notices", default=None)


def add_error(path: Path, code: str, message: str, **extensions: Any) -> None:
    """An error entry at `path` that leaves the field's value in place."""
    notices = current_notices.get()
    if notices is not None:
        notices.errors.append(
            GraphQLError(message, path=list(path), extensions={"code": code, **extensions})
        )


def field_error(error: Exception) -> Any:
    """What a subscription yields to send one event as the error `error` at its field's
    path (data null) and keep streaming: graphql-core completes a resolved value that is an
    exception as a located field error (its `complete_value`, as graphql-js does), and the
    event's value is what Strawberry resolves a subscription field to. Typed Any so it
    passes where the field's type is expected; tests/test_cart_live.py holds the shape."""
    return error


def add_warning(path: Path, code: str, message: str, **details: Any) -> None:
    """An entry of `extensions.warnings`; the answer has no error for it."""
    notices = current_notices.get()
    if notices is not None:
        notices.warnings.append({"code": code, "message": message, "path": list(path), **details})
