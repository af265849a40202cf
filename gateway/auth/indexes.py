"""The auth collections' indexes, ensured at start-up like gateway.mongo's."""

from __future__ import annotations

import logging

from pymongo.errors import PyMongoError

from commerce.audit import AuditLog
from gateway.auth.authenticator import Authenticator

log = logging.getLogger(__name__)


async def ensure_auth_indexes(authenticator: Authenticator, audit: AuditLog) -> None:
    """Idempotent; an unreachable MongoDB is logged, not fatal (as gateway.mongo does)."""
    try:
        await authenticator.handoffs.ensure_indexes()
        await audit.ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure the auth indexes: %s", exc)
