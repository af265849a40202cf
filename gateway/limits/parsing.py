"""Parsing with a token limit, cached per query text (a drop-in for Strawberry's
ParserCache). graphql-core stops lexing at the limit, so an oversized document costs no
more than the limit; the refusal is QUERY_TOO_COMPLEX, not a syntax error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache, lru_cache

from graphql import DocumentNode, GraphQLSyntaxError, parse
from strawberry.extensions import SchemaExtension

from gateway.limits.refusal import too_complex


@cache
def _cached_parse(maxsize: int) -> Callable[[str, int], DocumentNode]:
    # one LRU per size, shared by the fresh extension instance of every request
    return lru_cache(maxsize=maxsize)(_parse)


def _parse(query: str, max_tokens: int) -> DocumentNode:
    try:
        # Comments are not tokens to the parser, but each is kept in memory: same bound.
        return parse(query, max_lexical_tokens=max_tokens, max_comments=max_tokens)
    except GraphQLSyntaxError as error:
        if not error.message.endswith("Parsing aborted."):
            raise
        if "nested too deeply" in error.message:
            raise too_complex("Operation refused: the document is nested too deeply.") from None
        raise too_complex(
            f"Operation refused: the document has more than {max_tokens} tokens (max_tokens)."
        ) from None


class TokenLimitedParser(SchemaExtension):
    def __init__(self, max_tokens: int, maxsize: int = 512) -> None:
        super().__init__()
        self._max_tokens = max_tokens
        self._parse = _cached_parse(maxsize)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            context.graphql_document = self._parse(context.query, self._max_tokens)
        yield
