"""What a resolver tells the client about data it returns anyway.

GraphQL has one channel for trouble, `errors`, and raising fills it but nulls the field.
Some answers need to keep their data and still say something:

- an error entry at a field's path while the field keeps its value: `STALE_DATA`, a cached
  copy served because its upstream failed (the client should not take it as current);
- a warning in the response's `extensions.warnings`: `[{code, message, path, ...}]`, for
  data that is right but was obtained in a degraded way (`CACHE_UNAVAILABLE`) or is being
  revalidated (`STALE_WHILE_REVALIDATE`). Warnings are not errors: clients that drop the
  data of any response with errors (Apollo's default error policy) keep it.

`ResponseNotices` collects both per operation (in a context variable, which the tasks of
one execution share) and adds them to the result; `add_error` and `add_warning` are what
resolvers call. Outside an operation (a subscription event, a unit test) they do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

Path = Sequence[str | int]


@dataclass(slots=True)
class _Notices:
    errors: list[GraphQLError] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


_current: ContextVar[_Notices | None] = ContextVar("omnigate_response_notices", default=None)


def add_error(path: Path, code: str, message: str, **extensions: Any) -> None:
    """An error entry at `path` that leaves the field's value in place."""
    notices = _current.get()
    if notices is not None:
        notices.errors.append(
            GraphQLError(message, path=list(path), extensions={"code": code, **extensions})
        )


def add_warning(path: Path, code: str, message: str, **details: Any) -> None:
    """An entry of `extensions.warnings`; the answer has no error for it."""
    notices = _current.get()
    if notices is not None:
        notices.warnings.append({"code": code, "message": message, "path": list(path), **details})


class ResponseNotices(SchemaExtension):
    _warnings: list[dict[str, Any]] | None = None

    def on_execute(self) -> Iterator[None]:
        notices = _Notices()
        token = _current.set(notices)
        try:
            yield
        finally:
            _current.reset(token)
        result = self.execution_context.result
        if notices.errors and isinstance(result, ExecutionResult):
            result.errors = [*(result.errors or []), *notices.errors]
        self._warnings = notices.warnings

    def get_results(self) -> dict[str, Any]:
        return {"warnings": self._warnings} if self._warnings else {}
