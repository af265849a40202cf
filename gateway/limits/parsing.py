"""Parsing with a token limit, cached per query text (what Strawberry's ParserCache does;
gateway/limits/document.py runs it). graphql-core stops lexing at the limit, so an
oversized document costs no more than the limit; the refusal is QUERY_TOO_COMPLEX, not a
syntax error."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

from graphql import DocumentNode, GraphQLSyntaxError, parse

from gateway.limits.refusal import too_complex


@cache
def cached_parse(maxsize: int) -> Callable[[str, int], DocumentNode]:
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
