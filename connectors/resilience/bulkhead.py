"""A concurrency limit per upstream: how many attempts may be in flight to it at once.

A slow upstream then holds at most `limit` of the shared connection pool, and the calls
beyond wait in line, within their own deadline, instead of piling more onto it.
"""

from __future__ import annotations

import asyncio


class SlotTimeout(Exception):
    """No slot came free before the call's deadline."""


class Bulkhead:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._slots = asyncio.Semaphore(limit)

    def slot(self, wait_seconds: float) -> _Slot:
        """`async with bulkhead.slot(seconds):` holds a slot for the block, waiting for one
        at most `seconds` (else SlotTimeout). A class, not @asynccontextmanager: every
        upstream call enters one, and a generator-based manager costs several times more."""
        return _Slot(self, wait_seconds)

    async def _acquire(self, wait_seconds: float) -> None:
        if self._slots.locked():
            try:
                async with asyncio.timeout(wait_seconds):
                    await self._slots.acquire()
            except TimeoutError:
                raise SlotTimeout from None
        else:
            await self._slots.acquire()
        self.in_flight += 1

    def _release(self) -> None:
        self.in_flight -= 1
        self._slots.release()


class _Slot:
    __slots__ = ("_bulkhead", "_wait_seconds")

    def __init__(self, bulkhead: Bulkhead, wait_seconds: float) -> None:
        self._bulkhead = bulkhead
        self._wait_seconds = wait_seconds

    async def __aenter__(self) -> None:
        await self._bulkhead._acquire(self._wait_seconds)

    async def __aexit__(self, *exc_info: object) -> None:
        self._bulkhead._release()
