"""Polling the CRM for changed contacts: Salesforce sends no signed webhooks for Contact
changes, and HubSpot's (gateway/webhooks/hubspot.py) can be lost or switched off, so the
gateway polls for them; with HubSpot the poll is the fallback behind the webhooks.

Every `interval` the process holding the `crm-contact-poll` lease asks the CRM for the
contacts changed since the high-water mark (SOQL `LastModifiedDate >=`, connectors/
salesforce/crm.py; a `lastmodifieddate GTE` search, connectors/hubspot/crm.py), marks the
cached profiles holding them invalidated, and moves the mark on. The lease
(commerce/leases.py) is renewed at every poll and lasts three intervals, so one pod polls
and another takes over soon after it dies; the mark lives in MongoDB (commerce/sync_marks.py),
so whichever pod polls next resumes where the last stopped.

The mark never passes `now - lag`: a Salesforce transaction can commit after a later one
and still carry the earlier LastModifiedDate, and HubSpot's search index trails its writes
by seconds, so the most recent `lag` seconds are asked again at each poll. The changes read
again (same contact, same change time) are in the mark's `seen` set and skipped, so a
change invalidates its profile once. The bound is inclusive and cut to the second, which
`seen` covers as well.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from pymongo.errors import PyMongoError

from commerce.customers.cache import ProfileCache
from commerce.leases import Leases
from commerce.sync_marks import SyncMark, SyncMarks
from connectors.errors import UpstreamError
from connectors.records import CustomerIdentity, System

log = logging.getLogger(__name__)

LEASE = "crm-contact-poll"
MARK = "salesforce.contacts"  # the Salesforce CRM's; another CRM's is mark_for(its service)


def mark_for(service: str) -> str:
    """The high-water mark's id for the CRM adapter of `service`: one per CRM, so switching
    CRMs never resumes from the other's mark."""
    return f"{service}.contacts"


@runtime_checkable
class ContactChanges(Protocol):
    """The CRM adapter's change feed (SalesforceCrm, HubSpotCrm); the wiring polls only a
    CRM adapter that has one."""

    service: str

    async def contacts_modified_since(self, since: datetime) -> list[CustomerIdentity]: ...


@dataclass(frozen=True, slots=True)
class PollResult:
    changed: int  # contacts whose change this poll saw for the first time
    invalidated: int  # cached profiles marked invalidated for them


class ContactChangePoller:
    def __init__(
        self,
        *,
        crm: ContactChanges,
        cache: ProfileCache,
        leases: Leases,
        marks: SyncMarks,
        holder: str,
        interval_seconds: float,
        lag: timedelta,
        first_lookback: timedelta,
    ) -> None:
        self._crm = crm
        self._cache = cache
        self._leases = leases
        self._marks = marks
        self.holder = holder
        self._interval = interval_seconds
        self._lease = timedelta(seconds=3 * interval_seconds)
        self._lag = lag
        self._first_lookback = first_lookback
        self.mark = mark_for(crm.service)

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and the next one retries."""
        while True:
            try:
                result = await self.poll_once()
                if result is not None and result.changed:
                    log.info(
                        "CRM poll: %d changed contact(s), %d cached profile(s) invalidated",
                        result.changed,
                        result.invalidated,
                    )
            except (UpstreamError, PyMongoError) as exc:
                log.warning("CRM poll failed, retrying in %.0f s: %s", self._interval, exc)
            except Exception:
                log.exception("CRM poll failed unexpectedly")
            await asyncio.sleep(self._interval)

    async def poll_once(self) -> PollResult | None:
        """One poll if this process holds (or can take) the lease; None otherwise."""
        if not await self._leases.acquire(LEASE, self.holder, self._lease):
            return None
        now = datetime.now(UTC)
        mark = await self._marks.get(self.mark) or SyncMark(since=now - self._first_lookback)
        changed = await self._crm.contacts_modified_since(mark.since)
        new = [
            c for c in changed if c.updated_at is None or (c.ref.id, c.updated_at) not in mark.seen
        ]
        invalidated = 0
        by_system: dict[System, list[str]] = {}
        for contact in new:
            by_system.setdefault(contact.ref.system, []).append(contact.ref.id)
        for system, ids in by_system.items():
            invalidated += await self._cache.invalidate_by_refs(system.value, ids)
        await self._marks.save(self.mark, advance(mark, changed, now - self._lag))
        return PollResult(changed=len(new), invalidated=invalidated)

    async def release(self) -> None:
        """At shutdown: let another pod take over without waiting for the lease to run out."""
        try:
            await self._leases.release(LEASE, self.holder)
        except PyMongoError as exc:
            log.warning("could not release the CRM poll lease: %s", exc)


def poll_holder() -> str:
    """This process's name on the lease: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def advance(mark: SyncMark, changed: Sequence[CustomerIdentity], horizon: datetime) -> SyncMark:
    """The mark after handling `changed`: at the newest change seen, but never past
    `horizon`, cut to the second (as the query's bound is); every change at or after it is
    remembered as seen."""
    times = [c.updated_at for c in changed if c.updated_at is not None]
    newest = max(times, default=mark.since)
    since = max(mark.since, min(newest, horizon)).replace(microsecond=0)
    seen = frozenset(
        (c.ref.id, c.updated_at)
        for c in changed
        if c.updated_at is not None and c.updated_at >= since
    )
    return SyncMark(since, seen)
