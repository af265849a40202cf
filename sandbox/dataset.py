"""A deterministic retail dataset shared by every sandbox vendor API.

One generator, one seed: the Square, Shopify and Salesforce simulators each serve their
own slice of the same world, so the same person shows up in all three with different ids
and the contact details written the way each system tends to store them:

- CRM (Salesforce) knows ~90% of people; ~1% of them twice (a duplicate contact claiming
  the same email); phones often in national format, emails sometimes with stray spaces.
- POS (Square) knows ~55%, phone in E.164, ~10% without an email; ~70% of those with a
  phone hold a loyalty account.
- E-commerce (Shopify) knows ~65%, emails as the customer typed them (mixed case).

Products are SKU-keyed with one variant each. Shopify holds the price every channel shows;
the Square catalog carries a stale price for one SKU in twenty, as a POS price list often
does, so it is visible which system the gateway reads prices from.

`scale` multiplies the counts (benchmarks use 10); everything else stays the same.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

CURRENCY = "USD"
# Every timestamp is relative to this instant, so two builds are byte-for-byte equal.
ANCHOR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# The online warehouse's Square location id is fixed so the gateway's default setting for it
# (connectors.square.settings) names the sandbox's warehouse without a lookup.
WAREHOUSE_LOCATION_ID = "L0NLINEWH0001"

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    name: str
    address_line_1: str
    locality: str
    administrative_district_level_1: str
    postal_code: str
    country: str
    timezone: str
    latitude: float
    longitude: float
    phone_number: str
    # (day_of_week, start_local_time, end_local_time) as Square's business_hours periods.
    business_hours: tuple[tuple[str, str, str], ...]
    is_warehouse: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    title: str
    handle: str
    description: str
    category: str
    vendor: str
    price: Decimal
    pos_price: Decimal  # the Square catalog's price; differs from `price` for 1 SKU in 20
    image_urls: tuple[str, ...]
    shopify_product_id: int
    shopify_variant_id: int
    square_item_id: str
    square_variation_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    """The real human behind the records; never served by any API."""

    key: int
    given_name: str
    family_name: str
    email: str
    phone: str  # E.164


@dataclass(frozen=True, slots=True)
class CrmContact:
    id: str  # 18-character Salesforce id, prefix 003
    person_key: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    mobile_phone: str | None
    has_opted_out_of_email: bool
    account_id: str
    created_date: datetime
    last_modified_date: datetime


@dataclass(frozen=True, slots=True)
class PosCustomer:
    id: str  # 26 upper-case alphanumerics, as Square's
    person_key: int
    given_name: str
    family_name: str
    email_address: str | None
    phone_number: str | None
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class ShopCustomer:
    id: int  # numeric part of gid://shopify/Customer/<id>
    person_key: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LineItem:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    square_variation_id: str
    shopify_variant_id: int


@dataclass(frozen=True, slots=True)
class PosOrder:
    id: str  # 27 alphanumerics, as Square's
    location_id: str
    customer_id: str
    created_at: datetime
    line_items: tuple[LineItem, ...]
    total: Decimal
    state: str = "COMPLETED"


@dataclass(frozen=True, slots=True)
class OnlineOrder:
    id: int  # numeric part of gid://shopify/Order/<id>
    name: str  # "#1001"
    customer_id: int
    created_at: datetime
    line_items: tuple[LineItem, ...]
    total: Decimal
    financial_status: str = "PAID"
    fulfillment_status: str = "FULFILLED"


@dataclass(frozen=True, slots=True)
class LoyaltyAccount:
    id: str  # UUID, as Square's
    program_id: str
    customer_id: str
    phone_number: str
    balance: int
    lifetime_points: int
    created_at: datetime


@dataclass(slots=True)
class Dataset:
    seed: int
    scale: float
    locations: list[Location]
    products: list[Product]
    people: list[Person]
    crm_contacts: list[CrmContact]
    pos_customers: list[PosCustomer]
    shop_customers: list[ShopCustomer]
    pos_orders: list[PosOrder]
    online_orders: list[OnlineOrder]
    loyalty_accounts: list[LoyaltyAccount]
    loyalty_program_id: str
    # (square_variation_id, location_id) -> quantity; a missing pair is not tracked there.
    inventory: dict[tuple[str, str], int]
    products_by_sku: dict[str, Product] = field(init=False)

    def __post_init__(self) -> None:
        self.products_by_sku = {p.sku: p for p in self.products}

    @property
    def stores(self) -> list[Location]:
        return [loc for loc in self.locations if not loc.is_warehouse]

    @property
    def warehouse(self) -> Location:
        return next(loc for loc in self.locations if loc.is_warehouse)


@lru_cache(maxsize=4)
def build_dataset(scale: float = 1.0, seed: int = 42) -> Dataset:
    """The dataset for `scale` and `seed`; cached, because the three simulators share it."""
    rng = random.Random(seed)
    locations = _locations(rng)
    products = _products(rng, round(2000 * scale))
    people = _people(rng, round(5000 * scale))
    crm, pos, shop = _identities(rng, people)
    program_id = _uuid(rng)
    loyalty = _loyalty(rng, pos, program_id)
    stores = [loc for loc in locations if not loc.is_warehouse]
    pos_orders = _pos_orders(rng, pos, stores, products)
    online_orders = _online_orders(rng, shop, products)
    inventory = _inventory(rng, products, locations)
    return Dataset(
        seed=seed,
        scale=scale,
        locations=locations,
        products=products,
        people=people,
        crm_contacts=crm,
        pos_customers=pos,
        shop_customers=shop,
        pos_orders=pos_orders,
        online_orders=online_orders,
        loyalty_accounts=loyalty,
        loyalty_program_id=program_id,
        inventory=inventory,
    )


# --- ids in each vendor's own shape -------------------------------------------------------


def _token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choices(alphabet, k=length))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def salesforce_id(prefix: str, rng: random.Random) -> str:
    """An 18-character Salesforce id: 15 case-sensitive characters plus the case checksum."""
    base = prefix + "5g00000" + _token(rng, _ALNUM, 15 - len(prefix) - 7)
    suffix = ""
    for chunk in (base[0:5], base[5:10], base[10:15]):
        flags = sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[flags]
    return base + suffix


# --- the world ------------------------------------------------------------------------------

_CITIES = (
    ("New York", "NY", "10001", "America/New_York", 40.7506, -73.9972),
    ("Brooklyn", "NY", "11201", "America/New_York", 40.6943, -73.9918),
    ("Boston", "MA", "02108", "America/New_York", 42.3577, -71.0631),
    ("Philadelphia", "PA", "19103", "America/New_York", 39.9522, -75.1742),
    ("Washington", "DC", "20001", "America/New_York", 38.9101, -77.0147),
    ("Chicago", "IL", "60601", "America/Chicago", 41.8864, -87.6186),
    ("Austin", "TX", "78701", "America/Chicago", 30.2711, -97.7437),
    ("Denver", "CO", "80202", "America/Denver", 39.7530, -104.9994),
    ("Seattle", "WA", "98101", "America/Los_Angeles", 47.6101, -122.3344),
    ("Portland", "OR", "97205", "America/Los_Angeles", 45.5202, -122.6849),
    ("San Francisco", "CA", "94103", "America/Los_Angeles", 37.7726, -122.4099),
    ("Los Angeles", "CA", "90012", "America/Los_Angeles", 34.0614, -118.2385),
)
_STREETS = ("Main St", "Market St", "Broadway", "5th Ave", "Oak St", "Pine St", "Elm St")


def _locations(rng: random.Random) -> list[Location]:
    locations = []
    for index, (city, region, postal, tz, lat, lon) in enumerate(_CITIES):
        weekday_close = rng.choice(("19:00:00", "20:00:00", "21:00:00"))
        hours = (
            *((day, "09:00:00", weekday_close) for day in _DAYS[:5]),
            ("SAT", "10:00:00", "18:00:00"),
        )
        if index % 3 != 0:  # a third of the stores close on Sundays
            hours += (("SUN", "11:00:00", "17:00:00"),)
        locations.append(
            Location(
                id="L" + _token(rng, _UPPER_ALNUM, 12),
                name=f"Omni {city}",
                address_line_1=f"{rng.randint(10, 999)} {rng.choice(_STREETS)}",
                locality=city,
                administrative_district_level_1=region,
                postal_code=postal,
                country="US",
                timezone=tz,
                latitude=lat,
                longitude=lon,
                phone_number=f"+1{rng.randint(201, 989)}555{rng.randint(100, 199):04d}",
                business_hours=hours,
                is_warehouse=False,
                created_at=ANCHOR - timedelta(days=rng.randint(400, 3000)),
            )
        )
    locations.append(
        Location(
            id=WAREHOUSE_LOCATION_ID,
            name="Omni Online Fulfilment Centre",
            address_line_1="1 Logistics Way",
            locality="Columbus",
            administrative_district_level_1="OH",
            postal_code="43215",
            country="US",
            timezone="America/New_York",
            latitude=39.9612,
            longitude=-82.9988,
            phone_number="+16145550100",
            business_hours=tuple((day, "00:00:00", "23:59:00") for day in _DAYS),
            is_warehouse=True,
            created_at=ANCHOR - timedelta(days=3650),
        )
    )
    return locations


_CATEGORIES = {
    "APP": ("Apparel", ("Shirt", "Hoodie", "Jacket", "Dress", "Jeans", "Sweater", "Scarf")),
    "SHO": ("Shoes", ("Sneaker", "Boot", "Loafer", "Sandal", "Runner", "Trainer")),
    "HOM": ("Home", ("Mug", "Lamp", "Throw", "Candle", "Vase", "Cushion", "Planter")),
    "KIT": ("Kitchen", ("Skillet", "Knife", "Kettle", "Board", "Bowl", "Grinder")),
    "BEA": ("Beauty", ("Serum", "Balm", "Cleanser", "Mist", "Lotion", "Oil")),
    "OUT": ("Outdoor", ("Tent", "Backpack", "Bottle", "Lantern", "Hammock", "Stove")),
}
_ADJECTIVES = (
    "Classic", "Urban", "Coastal", "Alpine", "Everyday", "Heritage", "Studio", "Nordic",
    "Summit", "Harbor", "Meadow", "Canyon", "Midnight", "Sunlit", "Vintage", "Modern",
)  # fmt: skip
_MATERIALS = ("Linen", "Cotton", "Wool", "Oak", "Ceramic", "Leather", "Canvas", "Steel", "Clay")
_COLOURS = ("Black", "White", "Navy", "Sage", "Sand", "Rust", "Olive", "Stone", "Plum")
_VENDORS = ("Omni Basics", "Northfield", "Atelier 9", "Trailhead Co.", "Kinfolk Goods")


def _products(rng: random.Random, count: int) -> list[Product]:
    codes = list(_CATEGORIES)
    products = []
    for index in range(count):
        code = codes[index % len(codes)]
        category, nouns = _CATEGORIES[code]
        title = (
            f"{rng.choice(_ADJECTIVES)} {rng.choice(_MATERIALS)} {rng.choice(nouns)}"
            f" - {rng.choice(_COLOURS)}"
        )
        sku = f"{code}-{index + 1:06d}"
        handle = title.lower().replace(" - ", "-").replace(" ", "-") + f"-{index + 1}"
        price = Decimal(rng.randint(5, 300)) + Decimal(rng.choice((0, 50, 95, 99))) / 100
        stale = index % 20 == 7
        created = ANCHOR - timedelta(days=rng.randint(30, 900))
        vendor = rng.choice(_VENDORS)
        products.append(
            Product(
                sku=sku,
                title=title,
                handle=handle,
                description=f"{title}. {category} by {vendor}",
                category=category,
                vendor=vendor,
                price=price,
                pos_price=(price - Decimal("1.00")) if stale and price > 2 else price,
                image_urls=tuple(
                    f"https://cdn.shopify.com/s/files/1/0700/0001/products/{handle}-{n}.jpg"
                    for n in range(1, rng.randint(2, 4))
                ),
                shopify_product_id=8_100_000_000 + index,
                shopify_variant_id=44_200_000_000 + index,
                square_item_id=_token(rng, _UPPER_ALNUM, 24),
                square_variation_id=_token(rng, _UPPER_ALNUM, 24),
                created_at=created,
                updated_at=created + timedelta(days=rng.randint(0, 29)),
            )
        )
    return products


_GIVEN = (
    "Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Isla", "Mason", "Leah", "Lucas", "Nora",
    "Owen", "Ruby", "Caleb", "Ivy", "Elena", "Omar", "Priya", "Kenji", "Sofia", "Mateo",
    "Amara", "Yusuf", "Hana", "Diego", "Freya", "Tariq", "Chloe", "Jonah", "Aisha",
)  # fmt: skip
_FAMILY = (
    "Smith", "Garcia", "Chen", "Patel", "Johnson", "Nguyen", "Kim", "Okafor", "Rossi",
    "Müller", "Silva", "Cohen", "Haddad", "Ivanova", "Brown", "Lopez", "Tanaka", "Walsh",
    "Novak", "Adeyemi", "Larsen", "Moreau", "Singh", "Dubois", "Schmidt", "Khan",
)  # fmt: skip
_AREA_CODES = (212, 646, 718, 617, 215, 202, 312, 512, 303, 206, 503, 415, 213, 614)


def _people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for key in range(count):
        given = rng.choice(_GIVEN)
        family = rng.choice(_FAMILY)
        local = f"{given}.{family}".lower().replace("ü", "u")
        # key-derived digits keep every email and phone unique without a lookup table
        email = f"{local}{key}@example.com"
        area = _AREA_CODES[key % len(_AREA_CODES)]
        phone = f"+1{area}5{key // len(_AREA_CODES):06d}"
        people.append(Person(key, given, family, email, phone))
    return people


def _national(phone: str) -> str:
    digits = phone[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def _identities(
    rng: random.Random, people: list[Person]
) -> tuple[list[CrmContact], list[PosCustomer], list[ShopCustomer]]:
    crm: list[CrmContact] = []
    pos: list[PosCustomer] = []
    shop: list[ShopCustomer] = []
    account_id = salesforce_id("001", rng)
    for person in people:
        in_crm = rng.random() < 0.90
        in_pos = rng.random() < 0.55
        in_shop = rng.random() < 0.65
        if not (in_crm or in_pos or in_shop):
            in_crm = True
        since = ANCHOR - timedelta(days=rng.randint(60, 1500), minutes=rng.randint(0, 1440))
        if in_crm:
            copies = 2 if rng.random() < 0.01 else 1
            for copy in range(copies):
                email = person.email
                if rng.random() < 0.05:
                    email = f" {email.title()} "
                phone = _national(person.phone) if rng.random() < 0.5 else person.phone
                created = since + timedelta(days=copy * 40)
                crm.append(
                    CrmContact(
                        id=salesforce_id("003", rng),
                        person_key=person.key,
                        first_name=person.given_name,
                        last_name=person.family_name,
                        email=email,
                        phone=phone,
                        mobile_phone=person.phone if rng.random() < 0.3 else None,
                        has_opted_out_of_email=rng.random() < 0.2,
                        account_id=account_id,
                        created_date=created,
                        last_modified_date=created + timedelta(days=rng.randint(0, 50)),
                    )
                )
        if in_pos:
            created = since + timedelta(days=rng.randint(0, 30))
            pos.append(
                PosCustomer(
                    id=_token(rng, _UPPER_ALNUM, 26),
                    person_key=person.key,
                    given_name=person.given_name,
                    family_name=person.family_name,
                    email_address=None if rng.random() < 0.10 else person.email,
                    phone_number=person.phone,
                    created_at=created,
                    updated_at=created + timedelta(days=rng.randint(0, 200)),
                    version=rng.randint(0, 6),
                )
            )
        if in_shop:
            created = since + timedelta(days=rng.randint(0, 30))
            email = person.email
            if rng.random() < 0.2:
                email = f"{person.given_name}.{person.family_name}{person.key}@Example.com"
            shop.append(
                ShopCustomer(
                    id=7_300_000_000 + person.key,
                    person_key=person.key,
                    first_name=person.given_name,
                    last_name=person.family_name,
                    email=email,
                    phone=person.phone if rng.random() < 0.6 else None,
                    created_at=created,
                    updated_at=created + timedelta(days=rng.randint(0, 200)),
                )
            )
    return crm, pos, shop


def _loyalty(rng: random.Random, pos: list[PosCustomer], program_id: str) -> list[LoyaltyAccount]:
    accounts = []
    for customer in pos:
        if customer.phone_number is None or rng.random() >= 0.70:
            continue
        lifetime = rng.randint(0, 12_000)
        accounts.append(
            LoyaltyAccount(
                id=_uuid(rng),
                program_id=program_id,
                customer_id=customer.id,
                phone_number=customer.phone_number,
                balance=rng.randint(0, lifetime),
                lifetime_points=lifetime,
                created_at=customer.created_at + timedelta(days=1),
            )
        )
    return accounts


def _lines(
    rng: random.Random, products: list[Product], use_pos_price: bool
) -> tuple[LineItem, ...]:
    lines = []
    for product in rng.sample(products, rng.randint(1, 4)):
        lines.append(
            LineItem(
                sku=product.sku,
                name=product.title,
                quantity=rng.choice((1, 1, 1, 2, 3)),
                unit_price=product.pos_price if use_pos_price else product.price,
                square_variation_id=product.square_variation_id,
                shopify_variant_id=product.shopify_variant_id,
            )
        )
    return tuple(lines)


def _when(rng: random.Random, since: datetime) -> datetime:
    span = int((ANCHOR - since).total_seconds())
    return since + timedelta(seconds=rng.randint(0, max(span, 1)))


def _pos_orders(
    rng: random.Random,
    customers: list[PosCustomer],
    stores: list[Location],
    products: list[Product],
) -> list[PosOrder]:
    orders = []
    for customer in customers:
        home = rng.choice(stores)
        for _ in range(rng.choice((0, 1, 1, 2, 3, 4, 6))):
            lines = _lines(rng, products, use_pos_price=True)
            orders.append(
                PosOrder(
                    id=_token(rng, _ALNUM, 27),
                    location_id=home.id if rng.random() < 0.8 else rng.choice(stores).id,
                    customer_id=customer.id,
                    created_at=_when(rng, customer.created_at),
                    line_items=lines,
                    total=sum((line.unit_price * line.quantity for line in lines), Decimal(0)),
                )
            )
    return orders


def _online_orders(
    rng: random.Random, customers: list[ShopCustomer], products: list[Product]
) -> list[OnlineOrder]:
    orders: list[OnlineOrder] = []
    for customer in customers:
        for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
            lines = _lines(rng, products, use_pos_price=False)
            number = 1001 + len(orders)
            orders.append(
                OnlineOrder(
                    id=5_600_000_000 + number,
                    name=f"#{number}",
                    customer_id=customer.id,
                    created_at=_when(rng, customer.created_at),
                    line_items=lines,
                    total=sum((line.unit_price * line.quantity for line in lines), Decimal(0)),
                )
            )
    return orders


def _inventory(
    rng: random.Random, products: list[Product], locations: list[Location]
) -> dict[tuple[str, str], int]:
    inventory: dict[tuple[str, str], int] = {}
    for product in products:
        for location in locations:
            roll = rng.random()
            if location.is_warehouse:
                inventory[product.square_variation_id, location.id] = (
                    0 if roll < 0.05 else rng.randint(20, 400)
                )
            elif roll < 0.10:
                continue  # not ranged in this store: Square returns no count at all
            else:
                inventory[product.square_variation_id, location.id] = (
                    0 if roll < 0.25 else rng.randint(1, 40)
                )
    return inventory
