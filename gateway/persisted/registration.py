"""Registering operations for the safelist (`omnigate persisted register`).

Input: `.graphql` files, each registered as one document exactly as written, or Apollo
persisted query manifests (JSON: `{"format": "apollo-persisted-query-manifest",
"version": 1, "operations": [{"id", "body", "name", "type"}]}`, as
@apollo/generate-persisted-query-manifest and Apollo Kotlin write them), one registration
per operation. A client's hash is the SHA-256 of the exact text it sends, so register what
the client sends: the manifest built from the client's own documents is the safe input.

Every document is parsed and validated against the schema first; if any fails, nothing is
registered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)

from gateway.persisted.store import PersistedQueryStore, query_hash

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


@dataclass(frozen=True, slots=True)
class OperationDocument:
    body: str
    source: str
    # the manifest's id, which must be the body's SHA-256 for clients' hashes to match
    declared_id: str | None = None


class RegistrationError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_documents(paths: Sequence[Path]) -> list[OperationDocument]:
    """Raises RegistrationError for unreadable files or manifests."""
    documents: list[OperationDocument] = []
    problems: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        if path.suffix.lower() == ".json":
            try:
                documents += _manifest_operations(path, json.loads(text))
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"{path}: not an Apollo persisted query manifest ({exc})")
        else:
            documents.append(OperationDocument(text, str(path)))
    if problems:
        raise RegistrationError(problems)
    return documents


def _manifest_operations(path: Path, manifest: Any) -> list[OperationDocument]:
    if manifest.get("format") != MANIFEST_FORMAT or manifest.get("version") != 1:
        raise ValueError(f"format must be {MANIFEST_FORMAT!r}, version 1")
    return [
        OperationDocument(
            str(operation["body"]),
            f"{path}#{operation.get('name') or operation['id']}",
            str(operation["id"]),
        )
        for operation in manifest["operations"]
    ]


def operation_names(body: str) -> list[str]:
    return [
        definition.name.value if definition.name else ""
        for definition in parse(body).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def check(documents: Sequence[OperationDocument], schema: GraphQLSchema) -> list[str]:
    """What is wrong with them, if anything (nothing should then be registered)."""
    problems: list[str] = []
    for document in documents:
        if document.declared_id is not None and document.declared_id != query_hash(document.body):
            problems.append(
                f"{document.source}: id {document.declared_id} is not the SHA-256 of its body "
                f"({query_hash(document.body)}); generate the manifest with SHA-256 ids"
            )
            continue
        try:
            ast = parse(document.body)
        except GraphQLError as exc:
            problems.append(f"{document.source}: {exc.message}")
            continue
        if not any(isinstance(d, OperationDefinitionNode) for d in ast.definitions):
            problems.append(f"{document.source}: no operation in the document")
            continue
        problems += [f"{document.source}: {error.message}" for error in validate(schema, ast)]
    return problems


async def register(
    store: PersistedQueryStore, documents: Sequence[OperationDocument]
) -> list[tuple[str, OperationDocument]]:
    """Registered (hash, document), in order. Raises PyMongoError."""
    registered = []
    for document in documents:
        sha256 = await store.register(
            document.body, operation_names=operation_names(document.body), source=document.source
        )
        registered.append((sha256, document))
    return registered
