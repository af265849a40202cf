"""Running a parsed SOQL query over an sObject's rows (Contacts, Cases).

String comparisons (=, !=, IN, LIKE, ranges) are case-insensitive, as Salesforce documents for
every field that is not a unique case-sensitive one; Ids compare exactly, and a 15-character
Id literal matches the 18-character Id it abbreviates. Unlike SQL, `!=` and `NOT IN` match
records whose field is null, and null only equals `null`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cmp_to_key
from typing import TypeVar

from sandbox.salesforce.fields import Field, FieldType, Value
from sandbox.salesforce.soql import Comparison, Condition, Logical, Not, Ordering, Query

Comparable = str | bool | datetime
Row = TypeVar("Row")


def run(query: Query, rows: list[Row]) -> list[Row]:
    matches = rows if query.where is None else [r for r in rows if _holds(query.where, r)]
    if query.order_by:
        matches = sorted(matches, key=cmp_to_key(_comparator(query.order_by)))
    return matches if query.limit is None else matches[: query.limit]


def _holds(condition: Condition, row: object) -> bool:
    if isinstance(condition, Not):
        return not _holds(condition.operand, row)
    if isinstance(condition, Logical):
        test = all if condition.operator == "AND" else any
        return test(_holds(operand, row) for operand in condition.operands)
    return _compare(condition, row)


def _compare(comparison: Comparison, row: object) -> bool:
    target = comparison.field
    actual = target.read(row)
    operator = comparison.operator
    if operator in ("=", "IN"):
        return any(_equal(target, actual, v) for v in comparison.values)
    if operator in ("!=", "NOT IN"):
        return not any(_equal(target, actual, v) for v in comparison.values)
    expected = comparison.values[0]
    if actual is None or expected is None:
        return False
    if operator == "LIKE":
        return _like(str(expected)).fullmatch(str(actual)) is not None
    order = _order(_key(target, actual), _key(target, expected))
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[operator]


def _equal(target: Field, actual: Value, expected: Value) -> bool:
    if actual is None or expected is None:
        return actual is expected
    if target.type is FieldType.ID:
        actual, expected = str(actual), str(expected)
        return actual == expected or (len(expected) == 15 and actual[:15] == expected)
    return _key(target, actual) == _key(target, expected)


def _key(target: Field, value: Value) -> Comparable:
    assert value is not None
    if target.type is FieldType.STRING and isinstance(value, str):
        return value.casefold()
    return value


def _order(left: Comparable, right: Comparable) -> int:
    """-1, 0 or 1; the parser has already checked both sides are of the field's type."""
    if isinstance(left, datetime) and isinstance(right, datetime):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return int(left is True) - int(right is True)  # booleans: false before true


def _like(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE: % any run, _ one character, \\% and \\_ literal; case-insensitive."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and pattern[index + 1 : index + 2] in ("%", "_"):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _comparator(orderings: list[Ordering]) -> Callable[[object, object], int]:
    def compare(a: object, b: object) -> int:
        for ordering in orderings:
            left, right = ordering.field.read(a), ordering.field.read(b)
            if left is None or right is None:
                if left is None and right is None:
                    continue
                return (-1 if left is None else 1) * (1 if ordering.nulls_first else -1)
            result = _order(_key(ordering.field, left), _key(ordering.field, right))
            if result:
                return -result if ordering.descending else result
        return 0

    return compare
