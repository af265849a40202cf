"""Helpers of the build, run before the project is installed; no part of the product.

Standard library only, each runnable as a script (`python3 tools/NAME.py`). A package so
that mypy checks them with the product (pyproject.toml, [tool.mypy] packages)."""
