"""Strawberry's extension hooks, entered the way Strawberry enters them, for less CPU.

For each of a request's four stages (operation, parsing, validation, execution),
Strawberry's runner looks up every extension's hook with `inspect`, wraps each one it finds
in a fresh `contextlib.contextmanager` (which copies the function's metadata with
`functools.wraps`) and enters them on an exit stack. With the gateway's seven extensions
that is 28 lookups and 8 wrappers per request, about 3% of a product page's CPU in
process (1.3% of its instructions; bench/README.md). Here the lookup is done once per
extension class and the wrapper once per hook function; what runs per request is the
hooks themselves, entered in the extensions' order and left in reverse on an
`ExitStack`, exactly as before.

Only generator hooks (every hook omnigate defines) take this path. An extension with an
async generator or a plain function as a hook gets Strawberry's own context managers.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

HookContext = Callable[[SchemaExtension], contextlib.AbstractContextManager[None]]
STAGES = ("on_operation", "on_parse", "on_validate", "on_execute")

# extension class -> {stage: its hook as a context-manager factory}, or None when one of
# its hooks is not a generator function (Strawberry's managers handle those)
_plans: dict[type[SchemaExtension], dict[str, HookContext] | None] = {}


def _plan(extension_class: type[SchemaExtension]) -> dict[str, HookContext] | None:
    if extension_class in _plans:
        return _plans[extension_class]
    plan: dict[str, HookContext] | None = {}
    for stage in STAGES:
        hook = getattr(extension_class, stage)
        if hook is getattr(SchemaExtension, stage):
            continue  # not overridden: nothing to run at this stage
        if not inspect.isgeneratorfunction(hook):
            plan = None
            break
        assert plan is not None
        plan[stage] = contextlib.contextmanager(hook)
    _plans[extension_class] = plan
    return plan


class _StageHooks:
    """One stage's hooks: `with` or `async with`, as Strawberry's managers allow."""

    __slots__ = ("_hooks", "_stack")

    def __init__(self, hooks: list[tuple[HookContext, SchemaExtension]]) -> None:
        self._hooks = hooks
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> None:
        stack = contextlib.ExitStack()
        with stack:
            for hook, extension in self._hooks:
                stack.enter_context(hook(extension))
            self._stack = stack.pop_all()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        stack, self._stack = self._stack, None
        assert stack is not None
        return bool(stack.__exit__(exc_type, exc, traceback))

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return self.__exit__(exc_type, exc, traceback)


class PlannedExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner, with each stage's hooks found once per extension class."""

    def __init__(self, execution_context: Any, extensions: list[SchemaExtension]) -> None:
        super().__init__(execution_context, extensions)
        plans = [_plan(type(extension)) for extension in self.extensions]
        self._plans = None if any(plan is None for plan in plans) else plans

    def _hooks(self, stage: str, strawberrys: type[ExtensionContextManagerBase]) -> Any:
        if self._plans is None:
            return strawberrys(self.extensions)
        hooks = []
        for extension, plan in zip(self.extensions, self._plans, strict=True):
            assert plan is not None
            hook = plan.get(stage)
            if hook is not None:
                hooks.append((hook, extension))
        return _StageHooks(hooks)

    def operation(self) -> Any:
        return self._hooks("on_operation", OperationContextManager)

    def parsing(self) -> Any:
        return self._hooks("on_parse", ParsingContextManager)

    def validation(self) -> Any:
        return self._hooks("on_validate", ValidationContextManager)

    def executing(self) -> Any:
        return self._hooks("on_execute", ExecutingContextManager)
