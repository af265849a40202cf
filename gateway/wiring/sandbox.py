"""The vendor simulators (sandbox/) as the runtime starts them for `omnigate sandbox` and
`omnigate dev`. The one module of the runtime that imports the sandbox (an import-linter
contract): production code paths never reach it."""

from pathlib import Path

import sandbox
from connectors.records import ExternalRef, LoyaltyAccountRecord, System
from sandbox.dataset import build_dataset
from sandbox.server import UNTHROTTLED, sandbox_apps, send_webhooks_to
from sandbox.shopify import STANDARD

# The promotions `omnigate dev` applies at start-up (an offers file, docs/offers.md).
SANDBOX_OFFERS = Path(sandbox.__file__).parent / "offers.yaml"

__all__ = [
    "SANDBOX_OFFERS",
    "STANDARD",
    "UNTHROTTLED",
    "member_accounts",
    "sandbox_apps",
    "send_webhooks_to",
]


def member_accounts(scale: float, seed: int) -> list[LoyaltyAccountRecord]:
    """The sandbox's loyalty members (Square Loyalty's accounts of the POS customers), as an
    import into omnigate's own ledger brings them: the same ids, balances and customers."""
    return [
        LoyaltyAccountRecord(
            ref=ExternalRef(System.SQUARE, account.id),
            customer_ref=ExternalRef(System.SQUARE, account.customer_id),
            balance=account.balance,
            lifetime_points=account.lifetime_points,
        )
        for account in build_dataset(scale, seed).loyalty_accounts
    ]
