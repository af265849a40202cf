"""The vendor simulators (sandbox/) as the runtime starts them for `omnigate sandbox` and
`omnigate dev`. The one module of the runtime that imports the sandbox (an import-linter
contract): production code paths never reach it."""

from sandbox.server import UNTHROTTLED, sandbox_apps
from sandbox.shopify import STANDARD

__all__ = ["STANDARD", "UNTHROTTLED", "sandbox_apps"]
