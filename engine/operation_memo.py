"""Something worked out from the operation's document alone, remembered per parsed operation.

Parsed documents are cached by their text (gateway/limits/parsing.py), so the same query
sent again executes the same `OperationDefinitionNode` object. What depends only on that
node and a place in it (the fields selected under a path, say) is then the same for
every request of that query, and need not be worked out again: an audited staff read
names the Customer fields it selects (resolvers/customers.py) before its audit entry can
be sent, and Strawberry's `info.selected_fields` converts the whole sub-tree, arguments and
directives included, to do so.

Nodes are not hashed (graphql-core's nodes hash by walking the tree), so an entry is
found by the node's `id` and used only when the node it holds *is* the one asked about;
holding the node also keeps its `id` from being reused while the entry lives. A document
the parse cache has dropped is simply worked out again. Bounded: the oldest entry goes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from graphql import OperationDefinitionNode

T = TypeVar("T")


class OperationMemo(Generic[T]):
    def __init__(self, maxsize: int = 512) -> None:
        self._maxsize = maxsize
        self._entries: dict[tuple[int, Hashable], tuple[OperationDefinitionNode, T]] = {}

    def get(
        self, operation: OperationDefinitionNode, where: Hashable, work_out: Callable[[], T]
    ) -> T:
        """`work_out()`'s answer for `where` in `operation`, remembered from the last time
        this very operation asked for it. `work_out` must depend on nothing else."""
        key = (id(operation), where)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is operation:
            return entry[1]
        value = work_out()
        if len(self._entries) >= self._maxsize:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (operation, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
