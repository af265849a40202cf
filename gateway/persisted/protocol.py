"""Automatic persisted queries (Apollo's APQ protocol) and the operation safelist, resolved
before Strawberry sees the request, so parsing, validation, limits and their caches apply
to the document that runs whichever way it came.

A request names its operation by text (`query`), by hash
(`extensions.persistedQuery = {version: 1, sha256Hash}`), or both (an APQ registration).

Without a safelist for the principal (APQ):
- text only: runs;
- hash only: runs the stored text; unknown, 200 PERSISTED_QUERY_NOT_FOUND, and the client
  resends with the text;
- hash and text: runs, and is stored once it has validated.

With the safelist enforced for the principal, only registered operations run:
- text only: 403 QUERY_NOT_IN_SAFELIST unless its hash is registered;
- hash only: 404 PERSISTED_QUERY_NOT_IN_LIST unless registered;
- hash and text: 403 QUERY_NOT_IN_SAFELIST unless registered (APQ cannot register).

Either way a hash that is not the text's SHA-256 is 400 PERSISTED_QUERY_HASH_MISMATCH (and
nothing runs), a `version` other than 1 is 400 BAD_REQUEST.

Messages, codes and statuses are Apollo Server's (PersistedQueryNotFound with HTTP 200 and
`Cache-Control: private, no-cache, must-revalidate`, which apollo-link-persisted-queries
answers by resending with the text) and Apollo Router's (the hash mismatch and the safelist
refusals). A safelist refusal is not PERSISTED_QUERY_NOT_FOUND on purpose: that code makes
the client resend the text, which the safelist refuses as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from commerce.principal import Principal, PrincipalKind
from gateway.limits.http_refusal import Refusal
from gateway.metrics import Metrics
from gateway.persisted.store import PersistedQueryStore, StoredOperation, query_hash

log = logging.getLogger(__name__)

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
QUERY_NOT_IN_SAFELIST = "QUERY_NOT_IN_SAFELIST"
# an answer about the store's content now must not be cached by a browser or a CDN (a GET
# hash-only request is otherwise cacheable): the next try may well succeed
NO_STORE = {"Cache-Control": "private, no-cache, must-revalidate"}
MONGODB_RETRY_AFTER = {"Retry-After": "5"}


@dataclass(frozen=True, slots=True)
class Resolved:
    """The document to run (None: the request had none, and Strawberry says so), and the
    hash to store it under once it has validated (an APQ registration)."""

    query: str | None
    register_as: str | None = None


class PersistedOperations:
    def __init__(
        self,
        store: PersistedQueryStore,
        *,
        safelisted: Collection[PrincipalKind],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self._safelisted = frozenset(safelisted)
        self._metrics = metrics

    def enforced_for(self, principal: Principal) -> bool:
        return principal.kind in self._safelisted

    async def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None, principal: Principal
    ) -> Resolved:
        """Raises Refusal."""
        enforced = self.enforced_for(principal)
        persisted = (extensions or {}).get("persistedQuery")
        if not persisted:  # as Apollo Server: null or absent is no APQ request
            if enforced and query is not None:
                await self._require_registered(query_hash(query), query_not_in_safelist)
            return Resolved(query)
        sha256 = _requested_hash(persisted)
        if query is None:
            operation = await self._lookup(sha256, enforced)
            if operation is None or (enforced and not operation.registered):
                self._count("not_in_safelist" if enforced else "miss")
                raise not_in_list(sha256) if enforced else not_found()
            self._count("hit")
            return Resolved(operation.query)
        if query_hash(query) != sha256:
            self._count("hash_mismatch")
            raise Refusal(
                400, PERSISTED_QUERY_HASH_MISMATCH, "provided sha does not match query", NO_STORE
            )
        if enforced:  # APQ may not add to the safelist: it must be registered already
            await self._require_registered(sha256, query_not_in_safelist)
            return Resolved(query)
        return Resolved(query, register_as=sha256)

    async def register_automatic(self, sha256: str, query: str) -> None:
        """After the operation validated and ran, as Apollo Server stores only valid ones."""
        try:
            if await self.store.save_automatic(sha256, query):
                self._count("registered")
        except PyMongoError as exc:
            # the client sends the text again next time; nothing else is lost
            log.warning("could not store persisted query %s: %s", sha256, exc)

    async def _require_registered(self, sha256: str, refusal: Callable[[str], Refusal]) -> None:
        operation = await self._lookup(sha256, enforced=True)
        if operation is None or not operation.registered:
            self._count("not_in_safelist")
            raise refusal(sha256)
        self._count("hit")

    async def _lookup(self, sha256: str, enforced: bool) -> StoredOperation | None:
        operation = self.store.cached(sha256)
        # only whether it is registered can change; ask again before refusing on it
        if operation is not None and (operation.registered or not enforced):
            return operation
        try:
            return await self.store.find(sha256)
        except PyMongoError as exc:
            if not enforced:
                # the client resends the text and that runs: APQ degrades to plain requests
                log.warning("persisted query lookup failed: %s", exc)
                return None
            raise Refusal(
                503,
                "UPSTREAM_UNAVAILABLE",
                "Registered operations cannot be checked right now; retry shortly.",
                {**NO_STORE, **MONGODB_RETRY_AFTER},
            ) from exc

    def _count(self, result: str) -> None:
        self._metrics.persisted_queries.labels(result).inc()


def _requested_hash(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refusal(400, "BAD_REQUEST", "Unsupported persisted query version")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str):
        raise Refusal(400, "BAD_REQUEST", "persistedQuery.sha256Hash must be a string")
    return sha256


def not_found() -> Refusal:
    # 200, as Apollo Server answers: an APQ miss is the protocol working, not a failure
    # (Apollo Client 3 stops sending hashes after a 400 or 500)
    return Refusal(200, PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound", NO_STORE)


def not_in_list(sha256: str) -> Refusal:
    return Refusal(
        404,
        PERSISTED_QUERY_NOT_IN_LIST,
        f"Persisted query '{sha256[:64]}' not found in the persisted query list",
        NO_STORE,
    )


def query_not_in_safelist(_sha256: str) -> Refusal:
    return Refusal(
        403,
        QUERY_NOT_IN_SAFELIST,
        "The operation body was not found in the persisted query safelist",
        NO_STORE,
    )
