"""Evaluating a search query against one resource's rows, with index shortcuts.

Each resource (products, variants, customers, orders) is a `Searchable`: its rows in id
order, the filter fields Shopify documents for its `query:` argument, the fields free text
is matched against, and exact-value indexes. A query that is an OR of indexed terms
(`sku:A OR sku:B`, the connector's hot path) is answered from the index instead of a scan,
so a lookup costs the same on a catalog of 2,000 products as on one of 20,000. Any other
query is compiled into a predicate and scanned, and since the data only changes when a
row is added (an order placed through orderCreate), the scan's answer is remembered until
then: browsing pages through one cached, ordered selection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sandbox.shopify.predicates import Field, Predicate, normal, term_predicate
from sandbox.shopify.search import And, Expr, Not, Or, Term, parse

Row = TypeVar("Row")
_CACHED_QUERIES = 64


class Ordered(list[Row]):
    """A selection in its served order, finding a cursor's row without a scan."""

    def __init__(self, rows: Iterable[Row], row_id: Callable[[Row], int]) -> None:
        super().__init__(rows)
        self._row_id = row_id
        self._positions: dict[int, int] | None = None

    def position(self, row_id: int) -> int | None:
        if self._positions is None:
            self._positions = {self._row_id(row): i for i, row in enumerate(self)}
        return self._positions.get(row_id)


@dataclass(slots=True)
class Searchable(Generic[Row]):
    rows: list[Row]  # in id order, Shopify's default sort
    row_id: Callable[[Row], int]
    fields: dict[str, Field[Row]]
    free_text: tuple[Callable[[Row], str | None], ...]
    sort_keys: dict[str, Callable[[Row], Any]]
    indexes: dict[str, dict[str, list[Row]] | None] = field(default_factory=dict)
    # Scans are the slow path and the data rarely changes: remember their answers.
    _selected: dict[tuple[str, str, bool], Ordered[Row]] = field(default_factory=dict)
    _haystacks: dict[int, str] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        """A new row, whose id is above every other (Shopify ids only grow)."""
        self.rows.append(row)
        self._selected.clear()
        for name, table in self.indexes.items():
            value = self.fields[name].get(row)
            if table is not None and value is not None:
                table.setdefault(normal(self.fields[name].kind, str(value)), []).append(row)

    def index(self, name: str) -> None:
        """Answer exact `name:value` terms from an index, built on the first such query."""
        self.indexes[name] = None

    def select(self, query: str | None, sort_key: str, reverse: bool) -> Ordered[Row]:
        """The rows matching `query`, sorted by `sort_key` then id, as Shopify orders them."""
        expr = parse(query) if query else None
        cache_key = (query or "", sort_key, reverse)
        cached = self._selected.get(cache_key)
        if cached is not None:
            return cached
        candidates = None if expr is None else self._candidates(expr)
        if expr is None:
            matching: list[Row] = self.rows
        else:
            matches = self._compile(expr)
            pool: Iterable[Row] = self.rows if candidates is None else candidates
            matching = [row for row in pool if matches(row)]
        selected = Ordered(self._sort(matching, self.sort_keys.get(sort_key), reverse), self.row_id)
        if candidates is None:
            if len(self._selected) >= _CACHED_QUERIES:
                self._selected.clear()
            self._selected[cache_key] = selected
        return selected

    def _sort(self, rows: list[Row], key: Callable[[Row], Any] | None, reverse: bool) -> list[Row]:
        # RELEVANCE and unknown keys fall back to id order: deterministic, so cursors hold.
        if key is None:
            ordered = sorted(rows, key=self.row_id)
        else:
            ordered = sorted(rows, key=lambda row: (key(row), self.row_id(row)))
        return ordered[::-1] if reverse else ordered

    def _compile(self, expr: Expr) -> Predicate[Row]:
        if isinstance(expr, Term):
            if expr.field is None:
                needle = expr.value.rstrip("*").lower()
                return lambda row: needle in self._haystack(row)
            spec = self.fields.get(expr.field)
            if spec is None:
                return lambda row: True  # Shopify ignores a filter it does not support
            return term_predicate(spec, expr.comparator, expr.value)
        if isinstance(expr, Not):
            inner = self._compile(expr.child)
            return lambda row: not inner(row)
        parts = [self._compile(child) for child in expr.children]
        if isinstance(expr, And):
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)

    def _haystack(self, row: Row) -> str:
        """The row's free-text fields, lower-cased once and kept."""
        row_id = self.row_id(row)
        text = self._haystacks.get(row_id)
        if text is None:
            values = (get(row) for get in self.free_text)
            text = self._haystacks[row_id] = " | ".join(v for v in values if v).lower()
        return text

    def _candidates(self, expr: Expr) -> list[Row] | None:
        """Rows that can possibly match, from the indexes; None when a scan is needed."""
        if isinstance(expr, Term):
            table = self._table(expr.field or "")
            if table is None or expr.comparator != ":" or expr.value.endswith("*"):
                return None
            return table.get(normal(self.fields[expr.field or ""].kind, expr.value), [])
        if isinstance(expr, Or):
            merged: dict[int, Row] = {}
            for child in expr.children:
                rows = self._candidates(child)
                if rows is None:
                    return None
                merged.update((self.row_id(row), row) for row in rows)
            return list(merged.values())
        if isinstance(expr, And):
            narrowed = [self._candidates(child) for child in expr.children]
            known = [rows for rows in narrowed if rows is not None]
            return min(known, key=len) if known else None
        return None

    def _table(self, name: str) -> dict[str, list[Row]] | None:
        if name not in self.indexes:
            return None
        table = self.indexes[name]
        if table is None:
            spec, table = self.fields[name], {}
            for row in self.rows:
                value = spec.get(row)
                if value is not None:
                    table.setdefault(normal(spec.kind, str(value)), []).append(row)
            self.indexes[name] = table
        return table
