"""What a resolver can tell the executor (engine/execution.py) so it may skip the resolver.

Both travel in Strawberry's field `metadata`, which never reaches the SDL:

    @strawberry.field(metadata=pure())
    def stores(self, first: int = 10) -> list[StoreStock]: ...

    @strawberry.field(metadata=prefetched("prefetched_availability"))
    async def availability(self, info: Info) -> Availability | None: ...

`pure()`: a synchronous resolver that only reads its parent and its arguments, so calling
it twice gives the same answer and does nothing else. The executor may then call the
function itself (arguments converted once per operation) and, should anything below fail
its fast path, call it again on the normal path.

`prefetched(attribute)`: the parent may already hold the field's value in `attribute`
(set by whoever built the parent, e.g. for a whole page at once). When it does, that value
is the answer and the resolver is not called; when the attribute is None, the resolver
runs as usual, so it must give the same answer either way.
"""

from __future__ import annotations

from typing import Any

PURE = "omnigate.pure"
PREFETCHED = "omnigate.prefetched"


def pure() -> dict[str, Any]:
    return {PURE: True}


def prefetched(attribute: str) -> dict[str, Any]:
    return {PREFETCHED: attribute}
