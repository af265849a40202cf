"""A concurrency limit per upstream: how many attempts may be in flight to it at once.

A slow upstream then holds at most `limit` of the shared connection pool, and the calls
beyond wait in line, within their own deadline, instead of piling more onto it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class SlotTimeout(Exception):
    """No slot came free before the call's deadline."""


class Bulkhead:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._slots = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self, wait_seconds: float) -> AsyncIterator[None]:
        if self._slots.locked():
            try:
                async with asyncio.timeout(wait_seconds):
                    await self._slots.acquire()
            except TimeoutError:
                raise SlotTimeout from None
        else:
            await self._slots.acquire()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()
