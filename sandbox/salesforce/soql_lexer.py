"""Tokens of the SOQL subset the simulator understands.

String literals follow SOQL's quoted string escapes: \\n \\r \\t \\b \\f \\" \\' \\\\ and
\\uXXXX anywhere, \\% and \\_ only in LIKE patterns (kept escaped here so LIKE can tell a
literal % from a wildcard); a backslash before anything else is an error. dateTime literals
are unquoted: YYYY-MM-DDThh:mm:ss followed by Z or +hh:mm / -hh:mm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sandbox.salesforce.envelope import SalesforceApiError


class Kind(Enum):
    WORD = "word"  # keyword or field / object name
    STRING = "string"
    DATETIME = "datetime"
    NUMBER = "number"
    OPERATOR = "operator"
    PUNCT = "punct"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # as written (for errors and keywords)
    value: str | datetime | None  # decoded string, parsed dateTime, or None
    column: int  # 1-based, as Salesforce reports it


_SIMPLE_ESCAPES = {
    "n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t",
    "b": "\b", "B": "\b", "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\",
}  # fmt: skip
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


def malformed(soql: str, column: int, found: str) -> SalesforceApiError:
    """Salesforce's MALFORMED_QUERY, pointing at the offending column like the real one."""
    pointer = " " * (column - 1) + "^"
    return SalesforceApiError(
        400,
        "MALFORMED_QUERY",
        f"\n{soql}\n{pointer}\nERROR at Row:1:Column:{column}\nunexpected token: {found}",
    )


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(soql):
        char = soql[pos]
        if char.isspace():
            pos += 1
        elif char == "'":
            pos = _string(soql, pos, tokens)
        elif (match := _DATETIME.match(soql, pos)) is not None:
            parsed = datetime.fromisoformat(match[0].replace("Z", "+00:00"))
            tokens.append(Token(Kind.DATETIME, match[0], parsed, pos + 1))
            pos = match.end()
        elif (match := _NUMBER.match(soql, pos)) is not None:
            tokens.append(Token(Kind.NUMBER, match[0], match[0], pos + 1))
            pos = match.end()
        elif (match := _WORD.match(soql, pos)) is not None:
            tokens.append(Token(Kind.WORD, match[0], None, pos + 1))
            pos = match.end()
        elif (op := next((o for o in _OPERATORS if soql.startswith(o, pos)), None)) is not None:
            tokens.append(Token(Kind.OPERATOR, op, None, pos + 1))
            pos += len(op)
        elif char in "(),":
            tokens.append(Token(Kind.PUNCT, char, None, pos + 1))
            pos += 1
        else:
            raise malformed(soql, pos + 1, f"'{char}'")
    tokens.append(Token(Kind.END, "<EOF>", None, len(soql) + 1))
    return tokens


def _string(soql: str, start: int, tokens: list[Token]) -> int:
    """Decode the literal opening at `start`; return the position after its closing quote."""
    out: list[str] = []
    pos = start + 1
    while pos < len(soql):
        char = soql[pos]
        if char == "'":
            tokens.append(Token(Kind.STRING, soql[start : pos + 1], "".join(out), start + 1))
            return pos + 1
        if char != "\\":
            out.append(char)
            pos += 1
            continue
        escaped = soql[pos + 1 : pos + 2]
        if escaped in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escaped])
            pos += 2
        elif escaped in ("%", "_"):
            out.append("\\" + escaped)  # decided by the operator: only LIKE accepts it
            pos += 2
        elif escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", soql[pos + 2 : pos + 6]):
            out.append(chr(int(soql[pos + 2 : pos + 6], 16)))
            pos += 6
        else:
            raise SalesforceApiError(
                400,
                "MALFORMED_QUERY",
                f"Invalid string literal '{soql[start : pos + 2]}'. Illegal character sequence "
                f"'\\{escaped}' in string literal.",
            )
    raise malformed(soql, start + 1, "'" + soql[start:])
