"""Live stock and product changes for `stockChanged` and `productChanged` subscribers.

A write anywhere (a vendor's signed webhook, omnigate's own checkout, the polling fallback)
records *what* changed, never the new values, as one document in MongoDB
(`catalog_changes`, through `CatalogChanges`); every gateway process follows that
collection's change stream (`CatalogChangeFeed`) and marks the SKUs each of its subscribers
watches as changed (`LiveWatch`); a subscriber then reads the current values and sends
them (`follow`). Reading after the mark, never carrying values in the change, is what makes
the last message hold the latest values however the changes interleave.
"""

from commerce.live.changes import CatalogChanges, ChangeKind, StockChangeSink
from commerce.live.feed import CatalogChangeFeed
from commerce.live.follow import LiveUpdate, follow
from commerce.live.watch import Interest, LiveWatch, SubscriberFellBehind

__all__ = [
    "CatalogChangeFeed",
    "CatalogChanges",
    "ChangeKind",
    "Interest",
    "LiveUpdate",
    "LiveWatch",
    "StockChangeSink",
    "SubscriberFellBehind",
    "follow",
]
