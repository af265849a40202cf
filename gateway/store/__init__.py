"""MongoDB persistence: what belongs to no single upstream system."""

from gateway.store.leases import Leases
from gateway.store.mongo import connect_mongo, ensure_indexes, mongo_reachable
from gateway.store.profile_cache import CachedProfile, ProfileCache, RefreshFailure
from gateway.store.sync_marks import SyncMark, SyncMarks
from gateway.store.webhook_deliveries import WebhookDeliveries

__all__ = [
    "CachedProfile",
    "Leases",
    "ProfileCache",
    "RefreshFailure",
    "SyncMark",
    "SyncMarks",
    "WebhookDeliveries",
    "connect_mongo",
    "ensure_indexes",
    "mongo_reachable",
]
