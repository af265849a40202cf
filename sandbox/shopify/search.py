"""Shopify's search syntax (the `query:` argument), parsed into a small expression tree.

The subset of https://shopify.dev/docs/api/usage/search-syntax that omnigate and its
tests use: free-text terms, `field:value` with the comparators `:` `:<` `:<=` `:>` `:>=`,
single- or double-quoted values, `*` prefix wildcards, `-term` / `NOT term`, explicit
`AND` / `OR` (AND binds tighter; a missing connective means AND) and parentheses.
Shopify is lenient with malformed queries, so a query that does not parse is searched as
plain words rather than refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

COMPARATORS = (":<=", ":>=", ":<", ":>", ":")
_SPECIAL = set(" \t\n()")


@dataclass(frozen=True, slots=True)
class Term:
    field: str | None  # None: free text matched against the resource's default fields
    comparator: str  # one of COMPARATORS; ":" for free text
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    child: Expr


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Expr, ...]


Expr = Term | Not | And | Or


class SearchSyntaxError(ValueError):
    pass


@lru_cache(maxsize=1024)
def parse(query: str) -> Expr | None:
    """The expression for `query`, or None for an empty query (which matches everything)."""
    try:
        tokens = _tokenize(query)
        if not tokens:
            return None
        parser = _Parser(tokens)
        expr = parser.or_expr()
        if parser.pos != len(tokens):
            raise SearchSyntaxError("unexpected trailing input")
        return expr
    except SearchSyntaxError:
        words = [w for w in query.replace("(", " ").replace(")", " ").split() if w]
        return And(tuple(Term(None, ":", w.strip("'\"")) for w in words)) if words else None


# A token is a Term, a parenthesis, or a connective/negation keyword.
_Token = Term | str


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch in " \t\n":
            i += 1
        elif ch in "()":
            tokens.append(ch)
            i += 1
        elif ch == "-" and i + 1 < n and query[i + 1] not in _SPECIAL:
            tokens.append("NOT")  # `-term` is Shopify's short negation
            i += 1
        elif ch in "'\"":
            value, i = _quoted(query, i)
            tokens.append(Term(None, ":", value))
        else:
            start = i
            while i < n and query[i] not in _SPECIAL and query[i] != ":":
                i += 1
            word = query[start:i]
            if i < n and query[i] == ":":
                comparator = next(c for c in COMPARATORS if query.startswith(c, i))
                i += len(comparator)
                if i < n and query[i] in "'\"":
                    value, i = _quoted(query, i)
                else:
                    start = i
                    while i < n and query[i] not in _SPECIAL:
                        i += 1
                    value = query[start:i]
                tokens.append(Term(word.lower(), comparator, value))
            elif word in ("AND", "OR", "NOT"):
                tokens.append(word)
            else:
                tokens.append(Term(None, ":", word))
    return tokens


def _quoted(query: str, start: int) -> tuple[str, int]:
    quote, i, out = query[start], start + 1, []
    while i < len(query):
        ch = query[i]
        if ch == "\\" and i + 1 < len(query):
            out.append(query[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise SearchSyntaxError("unterminated quote")


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def or_expr(self) -> Expr:
        children = [self.and_expr()]
        while self._peek() == "OR":
            self.pos += 1
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Expr:
        children = [self.unary()]
        while (token := self._peek()) is not None and token not in ("OR", ")"):
            if token == "AND":
                self.pos += 1
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Expr:
        token = self._peek()
        self.pos += 1
        if token == "NOT":
            return Not(self.unary())
        if token == "(":
            inner = self.or_expr()
            if self._peek() != ")":
                raise SearchSyntaxError("missing )")
            self.pos += 1
            return inner
        if isinstance(token, Term):
            return token
        raise SearchSyntaxError(f"unexpected {token!r}")
