"""One asyncio lock per key, made on demand and dropped when nobody holds or awaits it.

Writes to one MongoDB document from many coroutines at once make WiredTiger retry write
conflicts with back-off: 200 concurrent adds to one cart took seconds and exhausted the
connection pool. Queuing them in the pod costs one round trip each and keeps MongoDB's
conflict retries for the rare collision between pods.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
