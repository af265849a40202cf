"""The Square adapter: POS (locations, customers, orders, loyalty), inventory
and card payments."""

from connectors.square.inventory import SquareInventory
from connectors.square.payments import SquarePayments
from connectors.square.pos import SquarePos
from connectors.square.settings import SQUARE_API_VERSION, SquareSettings

__all__ = ["SQUARE_API_VERSION", "SquareInventory", "SquarePayments", "SquarePos", "SquareSettings"]
