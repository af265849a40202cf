"""Who keeps the loyalty points: the POS adapter's own loyalty API, or omnigate's ledger in
MongoDB (`OMNIGATE_ADAPTERS__LOYALTY`, docs/adapters.md "Loyalty").

Not an entry-point port like the four in adapters.py: there are exactly two keepers, one
of them omnigate's own MongoDB, and the choice depends on what the chosen POS adapter can
do, so it is made here, after the adapters are built.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from commerce.offers.points_ledger import MongoPointsLedger
from connectors.ports import LoyaltyPort, PosPort
from gateway.settings import LoyaltyName
from gateway.wiring.adapters import AdapterError

VARIABLE = "OMNIGATE_ADAPTERS__LOYALTY"


def uses_ledger(choice: LoyaltyName, pos: PosPort) -> bool:
    """Whether omnigate keeps the points: chosen, or `auto` with a POS without loyalty."""
    return choice == "mongodb" or (choice == "auto" and not isinstance(pos, LoyaltyPort))


def choose_loyalty(
    choice: LoyaltyName,
    pos: PosPort,
    client: AsyncMongoClient[dict[str, Any]],
    database: AsyncDatabase[dict[str, Any]],
) -> LoyaltyPort:
    """The keeper `choice` names; AdapterError when it is `pos` and the POS has none."""
    if uses_ledger(choice, pos):
        return MongoPointsLedger(client, database)
    if not isinstance(pos, LoyaltyPort):
        raise AdapterError(
            [
                f"{VARIABLE}: pos, but the POS adapter ({type(pos).__qualname__}) has no "
                "loyalty API (LoyaltyPort, connectors/ports.py); set it to mongodb or auto"
            ]
        )
    return pos
