"""Validation, cached per document (what Strawberry's ValidationCache does;
gateway/limits/document.py runs it), that can
hide "Did you mean ...?" suggestions and the names the document did not say, followed by
the cost check with this request's variables.

Whether introspection and suggestions are allowed depends on the principal (a developer
may, others only where the settings say so: policy.py), so both are part of the cache key:
a document a developer validated is validated again, and refused, for anyone else."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from commerce.principal import ANONYMOUS, Principal
from gateway.limits.document_key import DocumentKey
from gateway.limits.rules import NoIntrospection

Rules = tuple[type[ASTValidationRule], ...]
# Strawberry adds these to every validation of its own
_STRAWBERRY_RULES: Rules = (MaybeNullValidationRule, OneOfInputValidationRule)


Validate = Callable[[GraphQLSchema, DocumentKey, Rules, bool, bool], list[GraphQLError]]


@cache
def cached_validate(maxsize: int) -> Validate:
    return lru_cache(maxsize=maxsize)(_validate)


def _validate(
    schema: GraphQLSchema,
    key: DocumentKey,
    rules: Rules,
    introspection: bool,
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """Every argument is part of the cache key, `introspection` and `hide_suggestions`
    included: they differ between principals asking with the same document."""
    document = key.document
    if not introspection:
        rules = (*rules, NoIntrospection)
    errors = validate(
        schema, document, (*rules, *_STRAWBERRY_RULES), hide_suggestions=hide_suggestions
    )
    return [_unnamed(error, document) for error in errors] if hide_suggestions else errors


# a name graphql-core quotes in a message: 'Query.product', '[_Any!]!', '$id'
_QUOTED = re.compile(r"'([^']*)'")
_WORD = re.compile(r"\w+")
_UNSAID = "…"


def _unnamed(error: GraphQLError, document: DocumentNode) -> GraphQLError:
    """The error with every quoted name the document did not say replaced by an ellipsis.

    `hide_suggestions` drops "Did you mean ...?", but other messages still name what the
    client never wrote: a guessed field's required arguments and their types ("Field
    'customer' argument 'id' of type 'ID!' is required"), the type a field returns or an
    argument expects. A correct guess tells that the name exists, nothing more."""
    said = set(_WORD.findall(document.loc.source.body)) if document.loc else set()

    def mask(match: re.Match[str]) -> str:
        quoted = match.group(1)
        return match.group(0) if set(_WORD.findall(quoted)) <= said else f"'{_UNSAID}'"

    message = _QUOTED.sub(mask, error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        error.extensions,
    )


def principal_of(context: object) -> Principal:
    """The request's principal; a schema executed without the gateway's context (as in
    tests) is asked as anonymous."""
    principal = getattr(context, "principal", ANONYMOUS)
    return principal if isinstance(principal, Principal) else ANONYMOUS
