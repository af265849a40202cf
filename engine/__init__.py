"""The GraphQL engine beside resolvers/: the /graphql view, the per-request context and
loaders, error shaping, notices, the request deadline, and the fast executor with its
completers (docs/architecture.md)."""
