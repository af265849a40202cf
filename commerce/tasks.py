"""Stopping background tasks for sure, and never hanging a shutdown on them.

A single `task.cancel()` is not enough: pymongo's async network layer turns a cancellation
that lands mid-operation into an `AutoReconnect` (`_OperationCancelled`), which a
background loop that outlives failures logs and carries on from. Cancelling again until
the task is done ends it at its next await. A task that still runs after `give_up_after`
seconds is left behind with a warning: the process is stopping, and a shutdown that never
ends is worse than a task the event loop's close will drop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

RECANCEL_SECONDS = 0.2
GIVE_UP_SECONDS = 10.0


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], give_up_after: float = GIVE_UP_SECONDS
) -> None:
    """Cancel `tasks` (again, while any is still running) and wait until all are done, or
    until `give_up_after` seconds have passed."""
    every = list(tasks)
    pending = {task for task in every if not task.done()}
    give_up_at = time.monotonic() + give_up_after
    while pending and time.monotonic() < give_up_at:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_SECONDS)
    if pending:
        names = ", ".join(sorted(task.get_name() for task in pending))
        log.warning("background task(s) still running after %.0f s, left: %s", give_up_after, names)
    for task in every:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
