"""The background task of the offers engine: finds abandoned carts and delivers the
outbox's events to the configured webhooks, with retries and a signature header.

Every pod runs one; a claimed event is leased, so two pods never deliver it at once, and a
pod that dies mid-delivery leaves it to be claimed again after the lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pymongo.errors import PyMongoError

from commerce.offers.abandoned import AbandonedCarts
from commerce.offers.outbox import EVENT_ID_HEADER, SIGNATURE_HEADER, Outbox, signature
from commerce.tasks import cancel_and_wait

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    urls: tuple[str, ...]
    secret: str
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    interval_seconds: float


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        abandoned: AbandonedCarts,
        client: httpx.AsyncClient,
        settings: DispatchSettings,
    ) -> None:
        self._outbox = outbox
        self._abandoned = abandoned
        self._client = client
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="offers-dispatcher")

    async def stop(self) -> None:
        # The flag first: a cancellation landing in a MongoDB operation comes back as
        # AutoReconnect, which the loop outlives, and a busy loop can be mid-operation at
        # every re-cancel of cancel_and_wait; the flag ends it at its next turn anyway.
        self._stopping = True
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except PyMongoError as exc:
                if self._stopping:
                    return
                # MongoDB away for a moment: one line a round, not a traceback each time.
                log.warning("offers dispatcher round skipped, MongoDB unavailable: %s", exc)
            except Exception:
                if self._stopping:
                    return
                # The loop outlives any one failure (a bug in one event): it is logged and
                # the next round tries again.
                log.exception("offers dispatcher round failed")
            await asyncio.sleep(self._settings.interval_seconds)

    async def run_once(self) -> int:
        """One round: abandoned carts found, due events delivered; how many were sent."""
        await self._abandoned.scan()
        sent = 0
        lease = timedelta(seconds=self._settings.timeout_seconds * (len(self._settings.urls) + 1))
        while (event := await self._outbox.claim_due(datetime.now(UTC), lease)) is not None:
            await self._deliver(event)
            sent += 1
        return sent

    async def _deliver(self, event: dict[str, object]) -> None:
        event_id = str(event["_id"])
        created = event["created_at"]
        assert isinstance(created, datetime)
        body = json.dumps(
            {
                "id": event_id,
                "type": event["type"],
                "createdAt": created.replace(tzinfo=UTC).isoformat(),
                "data": event["data"],
            },
            separators=(",", ":"),
            default=str,
        ).encode()
        done_before = set(event.get("delivered_to") or [])  # type: ignore[call-overload]
        error = None
        for url in self._settings.urls:
            if url in done_before:
                continue
            headers = {
                "content-type": "application/json",
                EVENT_ID_HEADER: event_id,
                SIGNATURE_HEADER: signature(self._settings.secret, int(time.time()), body),
            }
            try:
                response = await self._client.post(
                    url, content=body, headers=headers, timeout=self._settings.timeout_seconds
                )
            except httpx.HTTPError as exc:
                error = f"{url}: {exc!r}"
                continue
            if 200 <= response.status_code < 300:
                await self._outbox.delivered(event_id, url)
            else:
                error = f"{url}: HTTP {response.status_code}"
        attempts = int(event.get("attempts") or 0) + 1  # type: ignore[call-overload]
        retry_at = None
        if error is not None and attempts < self._settings.max_attempts:
            delay = timedelta(seconds=self._settings.backoff_seconds * 2 ** (attempts - 1))
            retry_at = datetime.now(UTC) + min(delay, MAX_BACKOFF)
        if error is not None:
            log.warning("event %s not delivered (attempt %d): %s", event_id, attempts, error)
        await self._outbox.settle(event_id, done=error is None, retry_at=retry_at, error=error)
