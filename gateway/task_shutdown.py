"""Stopping background tasks for sure.

A single `task.cancel()` is not enough: pymongo's async network layer turns a cancellation
that lands mid-operation into an `AutoReconnect` (`_OperationCancelled`), which a
background loop that outlives failures logs and carries on from. Cancelling again until
the task is done ends it at its next await instead of hanging the shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

RECANCEL_SECONDS = 0.2


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel `tasks` (again, while any is still running) and wait until all are done."""
    every = list(tasks)
    pending = {task for task in every if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_SECONDS)
    for task in every:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
