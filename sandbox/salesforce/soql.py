"""A parser for the SOQL subset omnigate's CRM adapter needs, over Contact and Case.

    SELECT field, ... FROM Contact|Case
    [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n]

condition: comparisons (= != < <= > >=, [NOT] IN (...), LIKE) joined by AND or OR, grouped
with parentheses, negated with NOT. As in Salesforce, AND and OR can't be mixed at one level
without parentheses. Values are type-checked against the field like Salesforce does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sandbox.salesforce import cases, contacts
from sandbox.salesforce.envelope import SalesforceApiError
from sandbox.salesforce.fields import Field, FieldType, Value, lookup
from sandbox.salesforce.soql_lexer import Kind, Token, malformed, tokenize

_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
# the queryable sObjects by lower-case name: canonical name and fields
SOBJECTS: dict[str, tuple[str, dict[str, Field]]] = {
    contacts.SOBJECT.lower(): (contacts.SOBJECT, contacts.FIELDS),
    cases.SOBJECT.lower(): (cases.SOBJECT, cases.FIELDS),
}


@dataclass(frozen=True, slots=True)
class Comparison:
    field: Field
    operator: str  # = != < <= > >= IN NOT IN LIKE
    values: tuple[Value, ...]  # one value, except for IN / NOT IN


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class Logical:
    operator: str  # AND / OR
    operands: tuple[Condition, ...]


Condition = Comparison | Not | Logical


@dataclass(frozen=True, slots=True)
class Ordering:
    field: Field
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Query:
    sobject: str  # canonical name: Contact, Case
    fields: list[Field]
    where: Condition | None
    order_by: list[Ordering]
    limit: int | None


def parse(soql: str) -> Query:
    return _Parser(soql).query()


class _Parser:
    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.pos = 0
        self.sobject = contacts.SOBJECT
        self.fields: dict[str, Field] = contacts.FIELDS

    # --- token helpers --------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def at(self, *words: str) -> bool:
        token = self.current
        return token.kind is Kind.WORD and token.text.upper() in words

    def take(self) -> Token:
        token = self.current
        self.pos += 1
        return token

    def expect_word(self, word: str) -> None:
        if not self.at(word):
            raise self.unexpected()
        self.take()

    def expect_punct(self, char: str) -> None:
        if self.current.kind is not Kind.PUNCT or self.current.text != char:
            raise self.unexpected()
        self.take()

    def unexpected(self) -> SalesforceApiError:
        token = self.current
        found = token.text if token.kind is Kind.END else f"'{token.text}'"
        return malformed(self.soql, token.column, found)

    # --- grammar ----------------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_word("SELECT")
        names = [self.name()]
        while self.current.text == ",":
            self.take()
            names.append(self.name())
        self.expect_word("FROM")
        sobject = self.name()
        if sobject.lower() not in SOBJECTS:
            raise SalesforceApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{sobject}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        self.sobject, self.fields = SOBJECTS[sobject.lower()]
        fields = [self.field(name) for name in names]
        where = None
        if self.at("WHERE"):
            self.take()
            where = self.condition()
        order_by = self.order_by() if self.at("ORDER") else []
        limit = None
        if self.at("LIMIT"):
            self.take()
            if self.current.kind is not Kind.NUMBER or not self.current.text.isdigit():
                raise self.unexpected()
            limit = int(self.take().text)
        if self.current.kind is not Kind.END:
            raise self.unexpected()
        return Query(self.sobject, fields, where, order_by, limit)

    def field(self, name: str) -> Field:
        return lookup(self.fields, self.sobject, name)

    def name(self) -> str:
        if self.current.kind is not Kind.WORD:
            raise self.unexpected()
        return self.take().text

    def condition(self) -> Condition:
        operands = [self.factor()]
        joiner: str | None = None
        while self.at("AND", "OR"):
            word = self.current.text.upper()
            if joiner is not None and word != joiner:
                raise self.unexpected()  # Salesforce requires parentheses to mix AND and OR
            joiner = word
            self.take()
            operands.append(self.factor())
        return operands[0] if joiner is None else Logical(joiner, tuple(operands))

    def factor(self) -> Condition:
        if self.at("NOT"):
            self.take()
            return Not(self.factor())
        if self.current.text == "(" and self.current.kind is Kind.PUNCT:
            self.take()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        target = self.field(self.name())
        if self.at("IN") or self.at("NOT"):
            operator = "NOT IN" if self.take().text.upper() == "NOT" else "IN"
            if operator == "NOT IN":
                self.expect_word("IN")
            self.expect_punct("(")
            values = [self.value(target, operator)]
            while self.current.text == "," and self.current.kind is Kind.PUNCT:
                self.take()
                values.append(self.value(target, operator))
            self.expect_punct(")")
            return Comparison(target, operator, tuple(values))
        if self.at("LIKE"):
            self.take()
            return Comparison(target, "LIKE", (self.value(target, "LIKE"),))
        if self.current.kind is not Kind.OPERATOR:
            raise self.unexpected()
        operator = self.take().text
        return Comparison(target, operator, (self.value(target, operator),))

    def value(self, target: Field, operator: str) -> Value:
        token = self.take()
        if token.kind is Kind.WORD and token.text.upper() == "NULL":
            if operator in ("=", "!=", "IN", "NOT IN"):
                return None
            raise _invalid_operator(target, operator)
        expected = target.type
        if expected in (FieldType.STRING, FieldType.ID) and token.kind is Kind.STRING:
            text = str(token.value)
            if operator != "LIKE" and ("\\%" in text or "\\_" in text):
                raise SalesforceApiError(
                    400, "MALFORMED_QUERY", "Invalid string literal: \\% and \\_ are LIKE only"
                )
            if expected is FieldType.ID and not _ID.match(text):
                raise SalesforceApiError(
                    400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}"
                )
            if operator == "LIKE" and expected is FieldType.ID:
                raise _invalid_operator(target, operator)
            return text
        if expected is FieldType.DATETIME and token.kind is Kind.DATETIME:
            if operator == "LIKE":
                raise _invalid_operator(target, operator)
            assert isinstance(token.value, datetime)
            return token.value
        if expected is FieldType.BOOLEAN and token.text.upper() in ("TRUE", "FALSE"):
            if operator not in ("=", "!="):
                raise _invalid_operator(target, operator)
            return token.text.upper() == "TRUE"
        if token.kind in (Kind.END, Kind.PUNCT, Kind.OPERATOR):
            self.pos -= 1
            raise self.unexpected()
        quoted = expected in (FieldType.STRING, FieldType.ID)
        raise SalesforceApiError(
            400,
            "INVALID_FIELD",
            f"value of filter criterion for field '{target.name}' must be of type "
            f"{expected.value} and should {'' if quoted else 'not '}be enclosed in quotes",
        )

    def order_by(self) -> list[Ordering]:
        self.expect_word("ORDER")
        self.expect_word("BY")
        orderings = [self.ordering()]
        while self.current.text == "," and self.current.kind is Kind.PUNCT:
            self.take()
            orderings.append(self.ordering())
        return orderings

    def ordering(self) -> Ordering:
        target = self.field(self.name())
        descending = False
        if self.at("ASC", "DESC"):
            descending = self.take().text.upper() == "DESC"
        # Salesforce's default: nulls first ascending, nulls last descending.
        nulls_first = not descending
        if self.at("NULLS"):
            self.take()
            if not self.at("FIRST", "LAST"):
                raise self.unexpected()
            nulls_first = self.take().text.upper() == "FIRST"
        return Ordering(target, descending, nulls_first)


def _invalid_operator(target: Field, operator: str) -> SalesforceApiError:
    return SalesforceApiError(
        400,
        "INVALID_QUERY_FILTER_OPERATOR",
        f"invalid operator on {target.type.value} field '{target.name}': {operator}",
    )
