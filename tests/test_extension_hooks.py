"""PlannedExtensionsRunner runs an operation's extension hooks as Strawberry's runner does:
the same hooks, in the same order, seeing the same failures, with the same results."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from gateway.extension_hooks import PlannedExtensionsRunner


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []


def recording(name: str, recorder: Recorder, *, fail_in: str | None = None) -> SchemaExtension:
    class Recording(SchemaExtension):
        def _hook(self, stage: str) -> Iterator[None]:
            recorder.events.append(f"{name} enter {stage}")
            if fail_in == stage:
                raise ValueError(f"{name} refused {stage}")
            try:
                yield
            except Exception as error:
                recorder.events.append(f"{name} saw {type(error).__name__} in {stage}")
                raise
            recorder.events.append(f"{name} leave {stage}")

        def on_operation(self) -> Iterator[None]:
            yield from self._hook("operation")

        def on_parse(self) -> Iterator[None]:
            yield from self._hook("parse")

        def on_validate(self) -> Iterator[None]:
            yield from self._hook("validate")

        def on_execute(self) -> Iterator[None]:
            yield from self._hook("execute")

    return Recording()


class OnlyExecute(SchemaExtension):
    """A hook at one stage only: the other stages skip it."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def on_execute(self) -> Iterator[None]:
        self.recorder.events.append("only-execute enter")
        yield
        self.recorder.events.append("only-execute leave")


class AsyncHooked(SchemaExtension):
    """An async generator hook, which the planned runner leaves to Strawberry's managers."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def on_operation(self) -> AsyncIterator[None]:
        self.recorder.events.append("async enter")
        yield
        self.recorder.events.append("async leave")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


class PlannedSchema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return PlannedExtensionsRunner(execution_context, extensions)


async def run_both(query: str, **extension_options: str) -> tuple[Recorder, Recorder, list]:
    """The same query through Strawberry's runner and the planned one, each with fresh
    recording extensions; returns both recorders and both results."""
    recorders = []
    results = []
    for schema_class in (strawberry.Schema, PlannedSchema):
        recorder = Recorder()
        schema = schema_class(
            query=Query,
            extensions=[
                lambda recorder=recorder: recording("first", recorder, **extension_options),
                lambda recorder=recorder: OnlyExecute(recorder),
                lambda recorder=recorder: recording("second", recorder),
            ],
        )
        results.append(await schema.execute(query))
        recorders.append(recorder)
    return recorders[0], recorders[1], results


async def test_hooks_run_in_strawberrys_order_at_every_stage() -> None:
    strawberrys, planned, (expected, result) = await run_both("{ hello }")

    assert planned.events == strawberrys.events
    assert planned.events[:4] == [
        "first enter operation",
        "second enter operation",
        "first enter parse",
        "second enter parse",
    ]
    assert planned.events[-2:] == ["second leave operation", "first leave operation"]
    assert "only-execute enter" in planned.events
    assert (result.data, result.errors) == (expected.data, expected.errors)
    assert result.data == {"hello": "world"}


@pytest.mark.parametrize("stage", ["operation", "parse", "validate", "execute"])
async def test_a_hook_that_raises_is_seen_and_answered_as_strawberry_does(stage: str) -> None:
    strawberrys, planned, (expected, result) = await run_both("{ hello }", fail_in=stage)

    assert planned.events == strawberrys.events
    assert [str(error) for error in result.errors or []] == [
        str(error) for error in expected.errors or []
    ]
    assert f"first refused {stage}" in str(result.errors)


async def test_an_invalid_document_fails_the_same_way() -> None:
    strawberrys, planned, (expected, result) = await run_both("{ nope }")

    assert planned.events == strawberrys.events
    assert [error.message for error in result.errors or []] == [
        error.message for error in expected.errors or []
    ]


async def test_an_async_hook_falls_back_to_strawberrys_managers() -> None:
    recorder = Recorder()
    schema = PlannedSchema(
        query=Query,
        extensions=[lambda: AsyncHooked(recorder), lambda: OnlyExecute(recorder)],
    )

    result = await schema.execute("{ hello }")

    assert result.data == {"hello": "world"}
    assert recorder.events == [
        "async enter",
        "only-execute enter",
        "only-execute leave",
        "async leave",
    ]
