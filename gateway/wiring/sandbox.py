"""The vendor simulators (sandbox/) as the runtime starts them for `omnigate sandbox` and
`omnigate dev`. The one module of the runtime that imports the sandbox (an import-linter
contract): production code paths never reach it."""

from pathlib import Path

import sandbox
from sandbox.server import UNTHROTTLED, sandbox_apps, send_webhooks_to
from sandbox.shopify import STANDARD

# The promotions `omnigate dev` applies at start-up (an offers file, docs/offers.md).
SANDBOX_OFFERS = Path(sandbox.__file__).parent / "offers.yaml"

__all__ = ["SANDBOX_OFFERS", "STANDARD", "UNTHROTTLED", "sandbox_apps", "send_webhooks_to"]
