"""The limits one schema enforces, resolved from settings once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from commerce.principal import PrincipalKind
from gateway.settings import Environment, LimitsSettings


@dataclass(frozen=True, slots=True)
class SchemaDiscovery:
    """What one request may learn about the schema beyond its own operation."""

    introspection: bool  # `__schema`, `__type` and the federation `_service { sdl }`
    suggestions: bool  # "Did you mean ...?" and the names validation messages give


@dataclass(frozen=True, slots=True)
class OperationLimits:
    max_depth: int
    max_aliases: int
    max_directives: int
    max_tokens: int
    max_cost: int
    default_list_size: int
    introspection: bool
    suggestions: bool
    # a DEVELOPER principal gets both, whatever the two above say
    developer_introspection: bool = True

    @classmethod
    def defaults(cls) -> OperationLimits:
        """The default limits, as in development."""
        return cls.from_settings(LimitsSettings())

    @classmethod
    def from_settings(
        cls, limits: LimitsSettings, env: Environment = Environment.DEVELOPMENT
    ) -> OperationLimits:
        # None: on outside production, where schema discovery helps an attacker more than
        # it helps a client (clients there ship their operations built).
        outside_production = env != Environment.PRODUCTION
        return cls(
            max_depth=limits.max_depth,
            max_aliases=limits.max_aliases,
            max_directives=limits.max_directives,
            max_tokens=limits.max_tokens,
            max_cost=limits.max_cost,
            default_list_size=limits.default_list_size,
            introspection=(
                limits.introspection if limits.introspection is not None else outside_production
            ),
            suggestions=(
                limits.field_suggestions
                if limits.field_suggestions is not None
                else outside_production
            ),
            developer_introspection=limits.developer_introspection,
        )

    def discovery(self, kind: PrincipalKind) -> SchemaDiscovery:
        """Introspection and suggestions for a principal of this kind."""
        if kind is PrincipalKind.DEVELOPER and self.developer_introspection:
            return SchemaDiscovery(introspection=True, suggestions=True)
        return SchemaDiscovery(introspection=self.introspection, suggestions=self.suggestions)
