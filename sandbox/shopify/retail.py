"""The shop's physical retail: locations, inventory levels, staff and Shopify POS orders.

The same world the Square simulator serves, as a retailer running Shopify POS keeps it:
the dataset's stores and its warehouse are Shopify `Location`s (in the dataset's order,
so the n-th store is the n-th location), each product's variant has one `InventoryItem`
with a level at every location the dataset stocks it at, and the in-store receipts are
orders whose `sourceName` is `pos`, sold at a `retailLocation` by a `staffMember`. A
receipt belongs to the Shopify customer of the same person, or to no one (a guest sale)
when that person has no Shopify customer.

Levels are shaped on first read of their item: at scale 10 there are 260,000 of them and
a request reads a few hundred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from graphql import GraphQLError

from sandbox.dataset import Dataset, Location, PosOrder
from sandbox.shopify.rows import Graph, PlacedOrder, gid, iso

LOCATION_BASE = 9_100_000_001
INVENTORY_ITEM_BASE = 49_000_000_000
STAFF_BASE = 8_800_000_000
# the quantity names Shopify keeps per level (InventoryQuantityName), and what the dataset's
# one count is in each: everything on hand is available, nothing is committed or incoming
QUANTITY_NAMES = ("available", "committed", "damaged", "incoming", "on_hand", "reserved")
STAFF_PER_STORE = 2
_STAFF_NAMES = (
    ("Alex", "Rivera"), ("Sam", "Okoye"), ("Jordan", "Lee"), ("Casey", "Novak"),
    ("Morgan", "Haddad"), ("Riley", "Tanaka"), ("Quinn", "Moreau"), ("Avery", "Singh"),
)  # fmt: skip
_COUNTRIES = {"US": "United States"}


def location_gid(index: int) -> str:
    """The Shopify Location id of the dataset's `index`-th location."""
    return gid("Location", LOCATION_BASE + index)


def inventory_item_gid(product_index: int) -> str:
    return gid("InventoryItem", INVENTORY_ITEM_BASE + product_index)


@dataclass(slots=True)
class Retail:
    """Locations, staff, inventory items and the POS orders, over one dataset."""

    dataset: Dataset
    locations: list[Graph] = field(default_factory=list)
    location_by_square_id: dict[str, Graph] = field(default_factory=dict)
    staff: dict[str, list[Graph]] = field(default_factory=dict)  # location gid -> staff
    items: dict[str, Graph] = field(default_factory=dict)  # inventory item gid -> item
    items_by_sku: dict[str, Graph] = field(default_factory=dict)
    _levels: dict[str, list[Graph]] = field(default_factory=dict)
    _stock: dict[str, list[tuple[Graph, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, location in enumerate(self.dataset.locations):
            graph = _location(index, location)
            self.locations.append(graph)
            self.location_by_square_id[location.id] = graph
            if not location.is_warehouse:
                self.staff[graph["id"]] = [
                    _staff(index * STAFF_PER_STORE + n) for n in range(STAFF_PER_STORE)
                ]
        for index, product in enumerate(self.dataset.products):
            item: Graph = {
                "__typename": "InventoryItem",
                "id": inventory_item_gid(index),
                "sku": product.sku,
                "tracked": True,
                "createdAt": iso(product.created_at),
                "updatedAt": iso(product.updated_at),
            }
            self.items[item["id"]] = item
            self.items_by_sku[product.sku] = item
            self._stock[item["id"]] = [
                (self.location_by_square_id[location.id], quantity)
                for location in self.dataset.locations
                if (
                    quantity := self.dataset.inventory.get(
                        (product.square_variation_id, location.id)
                    )
                )
                is not None
            ]

    def by_gid(self) -> dict[str, Graph]:
        """Every location, staff member and inventory item by its id (levels are found
        through their item)."""
        found = {graph["id"]: graph for graph in self.locations}
        found.update((member["id"], member) for staff in self.staff.values() for member in staff)
        found.update(self.items)
        return found

    def levels(self, item_gid: str) -> list[Graph]:
        """The item's InventoryLevels, one per location it is stocked at."""
        levels = self._levels.get(item_gid)
        if levels is None:
            item = self.items[item_gid]
            levels = self._levels[item_gid] = [
                _level(item, location, quantity) for location, quantity in self._stock[item_gid]
            ]
        return levels

    def set_available(self, sku: str, location_gid: str, quantity: int) -> Graph | None:
        """What a stock count at the till does: the SKU's level at the location holds
        `quantity` from now on; None when the SKU is unknown or not stocked there."""
        item = self.items_by_sku.get(sku)
        if item is None:
            return None
        for level in self.levels(item["id"]):
            if level["location"]["id"] == location_gid:
                level["_quantities"] = _quantities(quantity)
                return level
        return None

    def pos_order(self, order: PosOrder, number: int, shop_customer: int | None) -> PlacedOrder:
        """A Square receipt of the dataset as the same sale in Shopify POS."""
        return PlacedOrder(
            id=5_600_000_000 + number,
            name=f"#{number}",
            customer_id=shop_customer,
            created_at=order.created_at,
            line_items=order.line_items,
            total=sum((li.unit_price * li.quantity for li in order.line_items), Decimal(0)),
            financial_status="PAID",
            fulfillment_status="FULFILLED",
        )

    def pos_extra(self, order: PosOrder) -> Graph:
        """What a POS receipt carries beyond an online order: where and by whom it was sold."""
        location = self.location_by_square_id[order.location_id]
        staff = self.staff[location["id"]]
        seller = staff[sum(map(ord, order.id)) % len(staff)]
        return {
            "sourceName": "pos",
            "retailLocation": location,
            "staffMember": seller,
            "app": {"__typename": "OrderApp", "id": gid("App", 129785), "name": "Point of Sale"},
        }


def _location(index: int, location: Location) -> Graph:
    country = _COUNTRIES.get(location.country, location.country)
    address: Graph = {
        "address1": location.address_line_1,
        "address2": None,
        "city": location.locality,
        "province": location.administrative_district_level_1,
        "provinceCode": location.administrative_district_level_1,
        "zip": location.postal_code,
        "country": country,
        "countryCode": location.country,
        "phone": location.phone_number,
        "latitude": location.latitude,
        "longitude": location.longitude,
        "formatted": [
            location.address_line_1,
            f"{location.locality} {location.administrative_district_level_1} "
            f"{location.postal_code}",
            country,
        ],
    }
    return {
        "__typename": "Location",
        "id": location_gid(index),
        "name": location.name,
        "address": address,
        "isActive": True,
        # the warehouse ships online orders; the stores sell over the counter
        "fulfillsOnlineOrders": location.is_warehouse,
        "shipsInventory": location.is_warehouse,
        "hasActiveInventory": True,
        "isFulfillmentService": False,
        "createdAt": iso(location.created_at),
        "updatedAt": iso(location.created_at),
    }


def _staff(number: int) -> Graph:
    first, last = _STAFF_NAMES[number % len(_STAFF_NAMES)]
    return {
        "__typename": "StaffMember",
        "id": gid("StaffMember", STAFF_BASE + number),
        "firstName": first,
        "lastName": last,
        "name": f"{first} {last}",
        "email": f"{first}.{last}{number}@omni-retail.example".lower(),
        "active": True,
    }


def _level(item: Graph, location: Graph, quantity: int) -> Graph:
    number = int(str(location["id"]).rsplit("/", 1)[1])
    item_number = str(item["id"]).rsplit("/", 1)[1]
    return {
        "__typename": "InventoryLevel",
        "id": f"gid://shopify/InventoryLevel/{number}?inventory_item_id={item_number}",
        "isActive": True,
        "canDeactivate": False,
        "deactivationAlert": None,
        "createdAt": item["createdAt"],
        "updatedAt": item["updatedAt"],
        "item": item,
        "location": location,
        "_quantities": _quantities(quantity),
    }


def _quantities(available: int) -> dict[str, int]:
    return dict.fromkeys(QUANTITY_NAMES, 0) | {"available": available, "on_hand": available}


def quantities(level: Graph, names: list[str]) -> list[Graph]:
    """`InventoryLevel.quantities(names:)`: one InventoryQuantity per name asked, in order;
    Shopify refuses a name it does not keep."""
    known: dict[str, int] = level["_quantities"]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise GraphQLError(
            f"Invalid quantity names: {', '.join(unknown)}",
            extensions={"code": "BAD_REQUEST"},
        )
    return [
        {
            "__typename": "InventoryQuantity",
            "id": f"{level['id']}&name={name}",
            "name": name,
            "quantity": known[name],
            "updatedAt": level["updatedAt"],
        }
        for name in names
    ]
