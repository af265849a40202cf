"""Persisted operations: automatic persisted queries (Apollo's APQ protocol) and the
operation safelist, stored in MongoDB's `persisted_queries` (docs/security.md)."""

from gateway.persisted.protocol import (
    PERSISTED_QUERY_HASH_MISMATCH,
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_NOT_IN_LIST,
    QUERY_NOT_IN_SAFELIST,
    PersistedOperations,
    Resolved,
)
from gateway.persisted.store import PersistedQueryStore, StoredOperation, query_hash

__all__ = [
    "PERSISTED_QUERY_HASH_MISMATCH",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_IN_LIST",
    "QUERY_NOT_IN_SAFELIST",
    "PersistedOperations",
    "PersistedQueryStore",
    "Resolved",
    "StoredOperation",
    "query_hash",
]
