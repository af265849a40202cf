"""The Square adapter: POS (locations, customers, orders, loyalty) and inventory."""

from connectors.square.inventory import SquareInventory
from connectors.square.pos import SquarePos
from connectors.square.settings import SQUARE_API_VERSION, SquareSettings

__all__ = ["SQUARE_API_VERSION", "SquareInventory", "SquarePos", "SquareSettings"]
