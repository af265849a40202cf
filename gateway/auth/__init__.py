"""Principals and how a request proves who it is."""

from gateway.auth.principal import ANONYMOUS, Principal, PrincipalKind

__all__ = ["ANONYMOUS", "Principal", "PrincipalKind"]
