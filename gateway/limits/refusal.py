"""The GraphQL error every operation limit answers with: `QUERY_TOO_COMPLEX`, naming the limit.

The code rides in the error's extensions, so engine/errors.py keeps it when shaping."""

from __future__ import annotations

from collections.abc import Collection

from graphql import GraphQLError, Node

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"


def too_complex(message: str, nodes: Node | Collection[Node] | None = None) -> GraphQLError:
    return GraphQLError(message, nodes=nodes, extensions={"code": QUERY_TOO_COMPLEX})
