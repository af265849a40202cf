"""A parsed document as a cache key, compared and hashed by its source text.

graphql-core's AST nodes are dataclasses whose hash walks the whole tree on every call:
about 40 µs for the benchmark's 20-product query, paid on each lookup of the validation
and cost caches. A string keeps its hash once computed. Parsing is deterministic, so one
text is one document; a document without a location (built, not parsed) is its own key.
"""

from __future__ import annotations

from graphql import DocumentNode


class DocumentKey:
    __slots__ = ("_identity", "document")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self._identity: object = document.loc.source.body if document.loc else document

    def __hash__(self) -> int:
        return hash(self._identity)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocumentKey) and self._identity == other._identity
