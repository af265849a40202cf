"""The engine's schema extension: every operation's request deadline, its notices and the
shaping of its errors, in one class.

One class with two hooks rather than three with four: Strawberry's extension runner wraps
each hook of each extension for every request (a `contextmanager` and `functools.wraps`
apiece), which is most of what it costs (bench/README.md, 2026-12-06). What each part
does is in its own module: engine/deadline.py, engine/notices.py, engine/errors.py.

The order is the one the three separate extensions had: the deadline's budget starts with
the operation (parsing and validation inside it) and is the request deadline for the
whole execution; notices are collected inside it and added to the result when execution
ends; errors are shaped last, when the operation ends, notices' errors included. An
`OperationObserver` (the runtime's operation metrics) then hears of the operation with its
errors as the client sees them, from the same hook rather than one of its own.

Results streamed over a websocket are sent before the operation ends, so each is shaped
as it goes out (`on_stream_result`), with the notices its event raised: a subscription's
events are executed after `on_execute` has returned, so their notices go to the
operation's own collection, drained into each event.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Protocol

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, StreamExecutionResult
from strawberry.types import ExecutionResult as StreamedResult

from engine.deadline import execution_deadline
from engine.display_scope import display_refusal
from engine.errors import shape_errors
from engine.notices import Notices, current_notices

# Strawberry's per-request hooks of a SchemaExtension (its documented ones)
HOOKS = (
    "on_operation",
    "on_parse",
    "on_validate",
    "on_execute",
    "on_stream_result",
    "resolve",
    "get_results",
)


class OperationObserver(Protocol):
    def operation_ended(
        self,
        execution: ExecutionContext,
        errors: Sequence[GraphQLError] | None,
        *,
        failed: bool = False,
    ) -> None:
        """`errors` as shaped for the client; `failed`: an exception escaped (a 500)."""


class OperationExtension(SchemaExtension):
    # set per schema by `observed_by`; None hears nothing
    observer: ClassVar[OperationObserver | None] = None
    _started: float | None = None
    _warnings: list[dict[str, Any]] | None = None
    _stream_notices: Notices | None = None

    @classmethod
    def observed_by(cls, observer: OperationObserver | None) -> type[OperationExtension]:
        """This extension with `observer` told of every operation's end."""
        if observer is None:
            return cls
        return type(cls.__name__, (cls,), {"observer": observer})

    @classmethod
    def joined(cls, *others: type[SchemaExtension]) -> type[SchemaExtension]:
        """One extension class with `others`' hooks and this one's: Strawberry makes each
        extension per request and asks each for every hook, so one object rather than
        several costs less (bench/README.md, "the fixed cost of a request"). With one
        hook per stage, the order the separate extensions had does not arise; two classes
        with the same hook are refused rather than one silently shadowing the other."""
        if not others:
            return cls
        classes = (*others, cls)
        claimed: dict[str, type[SchemaExtension]] = {}
        for each in classes:
            for hook in HOOKS:
                if getattr(each, hook) is getattr(SchemaExtension, hook):
                    continue
                if hook in claimed:
                    raise TypeError(f"{claimed[hook].__name__} and {each.__name__} both {hook}")
                claimed[hook] = each
        return type("+".join(each.__name__ for each in classes), classes, {})

    def on_operation(self) -> Iterator[None]:
        self._started = time.monotonic()
        execution = self.execution_context
        self._stream_notices = notices = Notices()
        token = current_notices.set(notices)
        try:
            yield
        except GraphQLError as error:  # a refused document escapes the operation
            if self.observer is not None:
                self.observer.operation_ended(execution, shape_errors([error]))
            raise
        except Exception:
            if self.observer is not None:
                self.observer.operation_ended(execution, None, failed=True)
            raise
        finally:
            # A stream Strawberry left unclosed (its graphql-ws handler drops a refused
            # operation's) is closed by the event loop's finaliser, in a context of its
            # own: the variable was never set there, and reset would raise ValueError.
            with contextlib.suppress(ValueError):
                current_notices.reset(token)
        result = execution.result
        if result is not None and result.errors:
            result.errors = shape_errors(result.errors)
        if self.observer is not None:
            errors = getattr(result, "errors", None) or execution.pre_execution_errors
            self.observer.operation_ended(execution, errors)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if isinstance(result, StreamedResult):
            notices = self._stream_notices
            if notices is not None and (notices.errors or notices.warnings):
                if notices.errors:
                    result.errors = [*(result.errors or []), *notices.errors]
                if notices.warnings:
                    extensions = result.extensions or {}
                    warnings = [*extensions.get("warnings", []), *notices.warnings]
                    result.extensions = {**extensions, "warnings": warnings}
                notices.errors.clear()
                notices.warnings.clear()
            if result.errors:
                result.errors = shape_errors(result.errors)
        yield

    def on_execute(self) -> Iterator[None]:
        refusal = display_refusal(self.execution_context)
        if refusal is not None:
            # set before execution: Strawberry then answers it and executes nothing
            self.execution_context.result = refusal
            yield
            return
        with execution_deadline(self.execution_context, self._started):
            notices = Notices()
            token = current_notices.set(notices)
            try:
                yield
            finally:
                current_notices.reset(token)
            result = self.execution_context.result
            if notices.errors and isinstance(result, ExecutionResult):
                result.errors = [*(result.errors or []), *notices.errors]
            self._warnings = notices.warnings

    def get_results(self) -> dict[str, Any]:
        return {"warnings": self._warnings} if self._warnings else {}
