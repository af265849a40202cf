"""Strawberry types and fields, one module per domain; thin: they check arguments and
permission, call the commerce domain (or a connector port for plain reads) and return types."""
