"""The vendor simulators (sandbox/) as the runtime starts them for `omnigate sandbox` and
`omnigate dev`. The one module of the runtime that imports the sandbox (an import-linter
contract): production code paths never reach it."""

from pathlib import Path

import sandbox
from connectors.records import ExternalRef, LoyaltyAccountRecord, System
from sandbox.dataset import Dataset, build_dataset
from sandbox.server import UNTHROTTLED, sandbox_apps, send_webhooks_to
from sandbox.shopify import STANDARD

# The promotions `omnigate dev` applies at start-up (an offers file, docs/offers.md).
SANDBOX_OFFERS = Path(sandbox.__file__).parent / "offers.yaml"

__all__ = [
    "SANDBOX_OFFERS",
    "STANDARD",
    "UNTHROTTLED",
    "dataset_members",
    "member_accounts",
    "sandbox_apps",
    "send_webhooks_to",
]


def member_accounts(scale: float, seed: int, pos: str = "square") -> list[LoyaltyAccountRecord]:
    """The loyalty members of the sandbox built at `scale` and `seed`: `dataset_members`."""
    return dataset_members(build_dataset(scale, seed), pos)


def dataset_members(dataset: Dataset, pos: str = "square") -> list[LoyaltyAccountRecord]:
    """The dataset's loyalty members (Square Loyalty's accounts of the POS customers), as an
    import into omnigate's own ledger brings them: the same ids, balances and customers.
    With `pos` "shopify" each account belongs to its member's Shopify customer (Shopify POS
    shares the online store's customers); a member the shop does not know is left out."""
    if pos != "shopify":
        owners = {
            a.customer_id: ExternalRef(System.SQUARE, a.customer_id)
            for a in dataset.loyalty_accounts
        }
    else:
        person_of = {c.id: c.person_key for c in dataset.pos_customers}
        shop_of = {c.person_key: c.id for c in dataset.shop_customers}
        owners = {
            a.customer_id: ExternalRef(System.SHOPIFY, f"gid://shopify/Customer/{shop}")
            for a in dataset.loyalty_accounts
            if (shop := shop_of.get(person_of[a.customer_id])) is not None
        }
    return [
        LoyaltyAccountRecord(
            ref=ExternalRef(owners[account.customer_id].system, account.id),
            customer_ref=owners[account.customer_id],
            balance=account.balance,
            lifetime_points=account.lifetime_points,
        )
        for account in dataset.loyalty_accounts
        if account.customer_id in owners
    ]
