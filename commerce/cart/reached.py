"""The carts each principal reached lately on this pod: which adds may write first.

An add to a cart its principal reached before on this pod writes at once, its checks in the
update's filter (commerce/cart/guard.py); any other add reads the cart first, so an id the
principal cannot reach is answered NOT_FOUND before any price or stock is read
(docs/cart.md "Who reaches which cart"). Nothing here is served as data: an entry only
picks the path, and a stale one (the cart checked out, merged, turned to pickup, given to
another customer) makes the guarded write match nothing, and the add takes the reading
path, which forgets or renews the entry.
"""

from __future__ import annotations

from commerce.principal import Principal

# about 200 bytes an entry: some 2 MB a pod at the bound
MAX_ENTRIES = 10_000

Key = tuple[str, str | None, str | None]


def _key(principal: Principal, cart_id: str) -> Key:
    return (cart_id, principal.customer_id, principal.cart_token)


class ReachedCarts:
    """Bounded: past `max_entries` the oldest entry goes (its next add reads first)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._entries: dict[Key, None] = {}

    def knows(self, principal: Principal, cart_id: str) -> bool:
        return _key(principal, cart_id) in self._entries

    def remember(self, principal: Principal, cart_id: str) -> None:
        key = _key(principal, cart_id)
        if key in self._entries:
            return
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = None

    def forget(self, principal: Principal, cart_id: str) -> None:
        self._entries.pop(_key(principal, cart_id), None)

    def __len__(self) -> int:
        return len(self._entries)
