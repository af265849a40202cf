"""MongoDB persistence: what belongs to no single upstream system."""

from gateway.store.mongo import connect_mongo, ensure_indexes, mongo_reachable
from gateway.store.profile_cache import CachedProfile, ProfileCache
from gateway.store.webhook_deliveries import WebhookDeliveries

__all__ = [
    "CachedProfile",
    "ProfileCache",
    "WebhookDeliveries",
    "connect_mongo",
    "ensure_indexes",
    "mongo_reachable",
]
