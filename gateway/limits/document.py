"""The operation limits on the document, as one schema extension: parsing with a token
limit (parsing.py), then validation with the depth, alias, directive and introspection
rules and the cost check (validation.py). Both cached per document, so a fresh extension
per request still hits them.

One extension with two hooks rather than two with one each: Strawberry makes an extension
object per request and asks each of them for each of its hooks, which is a measurable
share of a small operation's cost (bench/README.md, 2026-12-06).
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from gateway.limits.cost import operation_cost
from gateway.limits.document_key import DocumentKey
from gateway.limits.parsing import cached_parse
from gateway.limits.policy import OperationLimits
from gateway.limits.refusal import too_complex
from gateway.limits.rules import limit_rules
from gateway.limits.validation import cached_validate, principal_of


class LimitedDocument(SchemaExtension):
    def __init__(self, limits: OperationLimits, maxsize: int = 512) -> None:
        super().__init__()
        self._limits = limits
        self._rules = limit_rules(limits)
        self._parse = cached_parse(maxsize)
        self._validate = cached_validate(maxsize)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            context.graphql_document = self._parse(context.query, self._limits.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.validation_rules:
            # the graphql-core schema, reached as Strawberry's own `_run_validation` does
            schema = context.schema._schema
            discovery = self._limits.discovery(principal_of(context.context).kind)
            errors = self._validate(
                schema,
                DocumentKey(document),
                context.validation_rules + self._rules,
                discovery.introspection,
                not discovery.suggestions,
            )
            if not errors:
                cost = operation_cost(
                    schema,
                    document,
                    context.operation_name,
                    context.variables,
                    self._limits.default_list_size,
                )
                if cost > self._limits.max_cost:
                    errors = [
                        too_complex(
                            f"Operation refused: cost {cost} exceeds the limit of "
                            f"{self._limits.max_cost} (max_cost)."
                        )
                    ]
            context.pre_execution_errors = errors
        yield
