"""Strawberry types and fields, one module per domain; thin, they call gateway services."""
