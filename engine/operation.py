"""The engine's schema extension: every operation's request deadline, its notices and the
shaping of its errors, in one class.

One class with two hooks rather than three with four: Strawberry's extension runner wraps
each hook of each extension for every request (a `contextmanager` and `functools.wraps`
apiece), which is most of what it costs (bench/README.md, 2026-12-06). What each part
does is in its own module: engine/deadline.py, engine/notices.py, engine/errors.py.

The order is the one the three separate extensions had: the deadline's budget starts with
the operation (parsing and validation inside it) and is the request deadline for the
whole execution; notices are collected inside it and added to the result when execution
ends; errors are shaped last, when the operation ends, notices' errors included.

Results streamed over a websocket are sent before the operation ends, so each is shaped
as it goes out (`on_stream_result`), with the notices its event raised: a subscription's
events are executed after `on_execute` has returned, so their notices go to the
operation's own collection, drained into each event.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult as StreamedResult
from strawberry.types import StreamExecutionResult

from engine.deadline import execution_deadline
from engine.errors import shape_errors
from engine.notices import Notices, current_notices


class OperationExtension(SchemaExtension):
    _started: float | None = None
    _warnings: list[dict[str, Any]] | None = None
    _stream_notices: Notices | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = time.monotonic()
        self._stream_notices = notices = Notices()
        token = current_notices.set(notices)
        try:
            yield
        finally:
            current_notices.reset(token)
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = shape_errors(result.errors)

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
