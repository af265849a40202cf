"""The merged customer profile, cached in MongoDB with a soft and a hard TTL.

One document per customer (docs/customer-profile.md "The cache"):

    {_id: <CRM contact id>, profile: {...}, fetched_at, fresh_until, expires_at,
     invalidated_at?, refreshing_until?, refresh_failure?: {service, code, at}}

`fresh_until` (soft TTL): until then the copy is served as it is. `expires_at` (hard TTL):
a TTL index removes the document after it, and reads filter on it too, since the TTL
monitor runs only once a minute; between the two the copy is served while one refresh runs
in the background, or as a stale fallback when the upstreams fail.

`refreshing_until` is the refresh lease: `claim_refresh` sets it with one atomic
findOneAndUpdate, so of all the gateway processes sharing this MongoDB one refreshes a
customer at a time. Writing the refreshed profile replaces the document and so ends it; a
refresh that failed keeps it until the retry back-off ends.

A signed webhook or the CRM poller marks the profiles holding a changed upstream id as
invalidated (`invalidate_by_refs`) rather than deleting them: the next read assembles the
profile again, and if the upstreams fail then, the marked copy is what degraded mode can
still serve (with STALE_DATA). A write is refused (`put` answers False) when the document
was invalidated or rewritten after the profile being written was read, so a slow refresh
never puts older data over a newer invalidation.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
COLLECTION = "customer_profiles"
# the CRMs whose contact ids a profile lists in its identity conflicts
CRM_SYSTEMS = frozenset({"SALESFORCE", "HUBSPOT"})


class CacheLookups(Protocol):
    """Where the profile cache's hits, misses and errors are counted (the runtime's
    Prometheus counter `omnigate_cache_lookups_total`)."""

    def count_cache_lookup(self, cache: str, result: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RefreshFailure:
    """Why the last background refresh failed: the upstream and its error code."""

    service: str
    code: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CachedProfile:
    customer_id: str
    profile: Document
    fetched_at: datetime
    fresh_until: datetime
    expires_at: datetime
    invalidated_at: datetime | None = None
    refresh_failure: RefreshFailure | None = None

    def is_fresh(self, now: datetime) -> bool:
        return self.invalidated_at is None and now < self.fresh_until

    @classmethod
    def from_document(cls, document: Document) -> CachedProfile:
        failure = document.get("refresh_failure")
        fetched_at: datetime = document["fetched_at"]
        return cls(
            customer_id=document["_id"],
            profile=document["profile"],
            fetched_at=fetched_at,
            # a document written before the soft TTL existed is due for a refresh
            fresh_until=document.get("fresh_until") or fetched_at,
            expires_at=document["expires_at"],
            invalidated_at=document.get("invalidated_at"),
            refresh_failure=None
            if failure is None
            else RefreshFailure(failure["service"], failure["code"], failure["at"]),
        )


class ProfileCache:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self._collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", expireAfterSeconds=0)
        # Multikey: one entry per external ref, so a webhook finds its profiles by vendor id.
        await self._collection.create_index("profile.external_refs.id")
        await self._collection.create_index("profile.loyalty.account.id")
        # The other CRM contacts a profile's conflicts name: a change to one of them must
        # drop the profile too (the conflict may be resolved).
        await self._collection.create_index("profile.identity_conflicts.contact_ids")

    async def get(self, customer_id: str) -> CachedProfile | None:
        """The copy, until its hard TTL: fresh, past its soft TTL, or invalidated."""
        now = datetime.now(UTC)
        document = await self._collection.find_one({"_id": customer_id, "expires_at": {"$gt": now}})
        return None if document is None else CachedProfile.from_document(document)

    async def put(
        self,
        customer_id: str,
        profile: Document,
        *,
        fetched_at: datetime,
        soft_ttl: timedelta,
        hard_ttl: timedelta,
    ) -> bool:
        """Store a profile read from the upstreams at `fetched_at`. False when it was not
        written because the cached document was invalidated or rewritten after that time."""
        document = {
            "profile": profile,
            "fetched_at": fetched_at,
            "fresh_until": fetched_at + soft_ttl,
            "expires_at": fetched_at + hard_ttl,
        }
        newer = [{"invalidated_at": {"$gt": fetched_at}}, {"fetched_at": {"$gt": fetched_at}}]
        try:
            await self._collection.replace_one(
                {"_id": customer_id, "$nor": newer}, document, upsert=True
            )
        except DuplicateKeyError:
            # The filter missed an existing document, so the upsert tried to insert its _id:
            # the document is newer than what we read.
            return False
        return True

    async def claim_refresh(self, customer_id: str, lease: timedelta) -> bool:
        """Take the refresh lease of a cached copy; False while another holds it (or the
        copy is gone). One atomic findOneAndUpdate, so exactly one claimant wins."""
        now = datetime.now(UTC)
        claimed = await self._collection.find_one_and_update(
            {
                "_id": customer_id,
                "expires_at": {"$gt": now},
                "refreshing_until": {"$not": {"$gt": now}},
            },
            {"$set": {"refreshing_until": now + lease}},
            projection={"_id": 1},
            return_document=ReturnDocument.AFTER,
        )
        return claimed is not None

    async def record_refresh_failure(
        self, customer_id: str, *, service: str, code: str, retry_after: timedelta
    ) -> None:
        """Keep the lease until `retry_after` from now (the back-off), and say why."""
        now = datetime.now(UTC)
        await self._collection.update_one(
            {"_id": customer_id},
            {
                "$set": {
                    "refresh_failure": {"service": service, "code": code, "at": now},
                    "refreshing_until": now + retry_after,
                }
            },
        )

    async def delete(self, customer_id: str) -> None:
        await self._collection.delete_one({"_id": customer_id})

    async def invalidate_by_refs(self, system: str, ids: Collection[str]) -> int:
        """Mark every cached profile holding one of `ids` of `system` (as an external ref, as
        its loyalty account, or for the CRM as a contact in one of its identity conflicts)
        as invalidated, expired or not. Returns how many were marked."""
        if not ids:
            return 0
        wanted = sorted(set(ids))
        holders: list[Document] = [
            {"profile.external_refs": {"$elemMatch": {"system": system, "id": {"$in": wanted}}}},
            {
                "profile.loyalty.account.system": system,
                "profile.loyalty.account.id": {"$in": wanted},
            },
        ]
        if system in CRM_SYSTEMS:
            holders.append({"profile.identity_conflicts.contact_ids": {"$in": wanted}})
        result = await self._collection.update_many(
            {"$or": holders}, {"$set": {"invalidated_at": datetime.now(UTC)}}
        )
        return result.matched_count
