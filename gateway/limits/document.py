"""The operation limits on the document, as one schema extension: parsing with a token
limit (parsing.py), then validation with the depth, alias, directive and introspection
rules and the cost check (validation.py). Both cached per document, so a fresh extension
per request still hits them.

One extension with two hooks rather than two with one each: Strawberry makes an extension
object per request and asks each of them for each of its hooks, which is a measurable
share of a small operation's cost (bench/README.md, 2026-12-06).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from graphql import DocumentNode, ValidationRule
from strawberry.extensions import SchemaExtension

from gateway.limits.cost import operation_cost
from gateway.limits.document_key import DocumentKey
from gateway.limits.parsing import cached_parse
from gateway.limits.policy import OperationLimits
from gateway.limits.refusal import too_complex
from gateway.limits.rules import limit_rules
from gateway.limits.validation import Validate, cached_validate, principal_of


@dataclass(frozen=True, slots=True)
class _Policy:
    """What every request's extension under one policy shares."""

    limits: OperationLimits
    rules: tuple[type[ValidationRule], ...]
    parse: Callable[[str, int], DocumentNode]
    validate: Validate


class LimitedDocument(SchemaExtension):
    """Made per request with no arguments, as Strawberry makes extensions: `for_limits`
    gives the class for a policy, whose rules and caches are looked up once, not on every
    request (bench/README.md, "the fixed cost of a request")."""

    _policy: ClassVar[_Policy]

    @classmethod
    def for_limits(cls, limits: OperationLimits, maxsize: int = 512) -> type[LimitedDocument]:
        """This extension under `limits`, its parse and validation caches `maxsize` each."""
        policy = _Policy(
            limits, limit_rules(limits), cached_parse(maxsize), cached_validate(maxsize)
        )
        return type(cls.__name__, (cls,), {"_policy": policy})

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            policy = self._policy
            context.graphql_document = policy.parse(context.query, policy.limits.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.validation_rules:
            # the graphql-core schema, reached as Strawberry's own `_run_validation` does
            schema = context.schema._schema
            policy = self._policy
            limits = policy.limits
            discovery = limits.discovery(principal_of(context.context).kind)
            errors = policy.validate(
                schema,
                DocumentKey(document),
                context.validation_rules + policy.rules,
                discovery.introspection,
                not discovery.suggestions,
            )
            if not errors:
                cost = operation_cost(
                    schema,
                    document,
                    context.operation_name,
                    context.variables,
                    limits.default_list_size,
                )
                if cost > limits.max_cost:
                    errors = [
                        too_complex(
                            f"Operation refused: cost {cost} exceeds the limit of "
                            f"{limits.max_cost} (max_cost)."
                        )
                    ]
            context.pre_execution_errors = errors
        yield
