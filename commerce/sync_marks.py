"""High-water marks of polled upstream changes, kept in MongoDB so any process resumes.

One document per feed, `{_id: name, since, seen: [{id, at}], saved_at}`: the next poll
asks for changes at or after `since`, and skips the `seen` ones (an id with the exact
change time already handled), which the inclusive bound reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
COLLECTION = "sync_marks"


@dataclass(frozen=True, slots=True)
class SyncMark:
    since: datetime
    # (record id, its change time) of the changes at or after `since` already handled
    seen: frozenset[tuple[str, datetime]] = frozenset()


class SyncMarks:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def get(self, name: str) -> SyncMark | None:
        document = await self._collection.find_one({"_id": name})
        if document is None:
            return None
        seen = frozenset((str(entry["id"]), entry["at"]) for entry in document.get("seen", []))
        return SyncMark(document["since"], seen)

    async def save(self, name: str, mark: SyncMark) -> None:
        await self._collection.replace_one(
            {"_id": name},
            {
                "since": mark.since,
                "seen": [{"id": i, "at": at} for i, at in sorted(mark.seen)],
                "saved_at": datetime.now(UTC),
            },
            upsert=True,
        )
