"""cancel_and_wait ends a loop that swallows cancellations, and gives up on one that never
ends instead of hanging the shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from commerce.tasks import cancel_and_wait


async def test_a_loop_that_swallows_one_cancellation_is_cancelled_again():
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.05)  # stands for a MongoDB call
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what pymongo's AutoReconnect amounts to, once

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await cancel_and_wait([task])
    assert task.cancelled()
    assert swallowed == 1


async def test_a_task_that_never_ends_is_left_behind_with_a_warning(
    caplog: pytest.LogCaptureFixture,
):
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="commerce.tasks"):
        await cancel_and_wait([task], give_up_after=0.3)
    assert not task.done()
    assert "stubborn" in caplog.text
    release.set()
    await task
