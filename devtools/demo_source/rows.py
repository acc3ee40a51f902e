"""Deterministic SAP-like open-order items for the demo source table ``dbo.ZSDOrderItem``.

Every row is a pure function of (seed, row index): the same seed gives the same rows on every
machine and Python version, and any single row can be regenerated without the ones before it.
Values keep SAP's raw encodings (leading-zero numbers, DATS/TIMS text, 'X' flags, NUMC text,
space-padded fixed-width fields) and sprinkle in the edge forms a sync must survive.

Python types per column: str for text (also for ``LastChangedAt``: datetime2(7) has 100 ns
digits that ``datetime`` cannot hold, so it is the exact literal text), ``datetime.date`` for
date, ``datetime.datetime`` for the legacy datetime, ``Decimal`` for decimals, None for NULL.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

# Base-table columns in table order: the view's 67 columns without the computed IsBlocked.
BASE_COLUMNS: tuple[str, ...] = (
    "SalesDocument",
    "SalesDocumentItem",
    "SalesDocumentType",
    "SalesOrganization",
    "DistributionChannel",
    "Division",
    "SalesOffice",
    "SalesGroup",
    "SoldToParty",
    "SoldToName",
    "ShipToParty",
    "ShipToName",
    "ShipToCity",
    "ShipToRegion",
    "ShipToCountry",
    "CustomerPurchaseOrder",
    "CustomerPODate",
    "OrderCreatedOn",
    "OrderCreatedAt",
    "OrderCreatedBy",
    "RequestedDeliveryDate",
    "ScheduleLineDate",
    "MaterialAvailabilityDate",
    "PlannedGoodsIssueDate",
    "Material",
    "MaterialDescription",
    "MaterialGroup",
    "CustomerMaterial",
    "Plant",
    "StorageLocation",
    "ShippingPoint",
    "Route",
    "ItemCategory",
    "OrderQuantity",
    "ConfirmedQuantity",
    "DeliveredQuantity",
    "OpenQuantity",
    "SalesUnit",
    "BaseUnit",
    "NetPrice",
    "PriceUnit",
    "NetValue",
    "OpenValue",
    "TaxAmount",
    "Currency",
    "ExchangeRate",
    "GrossWeight",
    "NetWeight",
    "WeightUnit",
    "Volume",
    "VolumeUnit",
    "DeliveryPriority",
    "Incoterms",
    "IncotermsLocation",
    "PaymentTerms",
    "OverallStatus",
    "DeliveryStatus",
    "CreditStatus",
    "DeliveryBlock",
    "BillingBlock",
    "RejectionReason",
    "CompleteDeliveryFlag",
    "SalesEmployee",
    "SalesEmployeeName",
    "LastChangedOn",
    "LastChangedAt",
)

# The "today" of the demo data; a fixed date keeps rows independent of the wall clock.
EXTRACT_DATE = dt.date(2026, 11, 28)
DATETIME2_SENTINEL = "9999-12-31 23:59:59.9999999"
FIRST_DOCUMENT = 10_000
_MILLI = Decimal("0.001")  # scale of quantities, weights and volumes
_CENT = Decimal("0.01")  # scale of prices and values

# Rows are laid out in blocks; each block holds whole documents of 1 to 5 items, so a row's
# document and item number follow from its block alone.
ROWS_PER_BLOCK = 8
# Document-number slots reserved per block: a block of one-item documents, each followed by a
# skipped number, uses 2 * ROWS_PER_BLOCK slots; fewer would let blocks overlap (duplicate keys).
DOCUMENTS_PER_BLOCK = 2 * ROWS_PER_BLOCK


@dataclass(frozen=True)
class Customer:
    number: str
    name: str
    city: str
    region: str
    country: str
    currency: str
    sales_org: str
    incoterms: str
    incoterms_location: str
    payment_terms: str


@dataclass(frozen=True)
class Material:
    number: str
    description: str
    group: str
    unit: str
    gross_weight: Decimal  # per unit, kg
    net_weight: Decimal
    volume: Decimal  # per unit, m3
    fractional: bool  # sold in fractions of the unit (kg, m), not whole pieces
    weight_unit: str
    volume_unit: str


@dataclass(frozen=True)
class DocumentHeader:
    """What every item of one sales document shares."""

    document_type: str
    customer: Customer
    ship_to: Customer
    purchase_order: str
    purchase_order_date: str | None
    created_on: dt.date | None
    created_at: str | None
    created_by: str
    requested_delivery: str | None
    sales_office: str
    sales_group: str
    sales_employee: str
    sales_employee_name: str | None
    credit_status: str | None
    delivery_block: str | None
    distribution_channel: str
    division: str
    plant: str
    shipping_point: str
    route: str
    complete_delivery: str | None


# --- master data -----------------------------------------------------------------------------

_COUNTRIES = {
    # country: (cities with region codes, currency, sales organisation)
    "DE": (
        (
            ("München", "09"),
            ("Köln", "05"),
            ("Düsseldorf", "05"),
            ("Nürnberg", "09"),
            ("Görlitz", "14"),
            ("Hamburg", "02"),
        ),
        "EUR",
        "1000",
    ),
    "AT": ((("Wien", "09"), ("Linz", "04"), ("Graz", "06")), "EUR", "1100"),
    "CH": ((("Zürich", "ZH"), ("Genève", "GE"), ("Basel", "BS")), "CHF", "1200"),
    "JP": ((("東京", "13"), ("大阪", "27"), ("名古屋", "23")), "JPY", "3000"),
    "US": ((("Chicago", "IL"), ("Houston", "TX"), ("Boston", "MA")), "USD", "2000"),
}
_COMPANY_NAMES = {
    "DE": (
        "Müller Maschinenbau GmbH",
        "Bäckerei Größl KG",
        "Schäfer & Söhne AG",
        "Weiß Werkzeugbau GmbH",
        "Krüger Logistik GmbH & Co. KG",
        "Böhm Präzisionsteile",
    ),
    "AT": (
        "Österreichische Förderanlagen GmbH",
        "Pröll Hydraulik KG",
        "Wörgötter Metall",
    ),
    "CH": ("Zürcher Armaturen AG", "Genève Précision SA", "Brückner Technik AG"),
    "JP": (
        "株式会社山田製作所",
        "佐藤工業株式会社",
        "鈴木商事",
        "東京ベアリング株式会社",
    ),
    "US": ("Northwind Traders Inc.", "Acme Industrial Supply", "O'Brien Tools LLC"),
}
_EMOJI_NAMES = ("Happy Parts Co. 😀", "Rocket Freight 🚀 GmbH", "Café Olé ☕ Supply")
_INCOTERMS = (
    ("EXW", "Werk"),
    ("FCA", "Hamburg Hafen"),
    ("DAP", ""),
    ("DDP", ""),
    ("CIF", "横浜港"),
    ("", ""),
)
_PAYMENT_TERMS = ("ZB01", "0001", "NT30", "NT60", "")

_MATERIAL_NAMES = (
    ("Hydraulikpumpe HP-200", "PUMPS", "ST", False),
    ("Kugellager 6204-2RS", "BEARINGS", "ST", False),
    ("Dichtungssatz Größe M", "SEALS", "ST", False),
    ("Flansch Ø 50 mm", "FLANGES", "ST", False),
    ("ボールベアリング 6305", "BEARINGS", "ST", False),
    ("Stahlrohr 42×2 mm", "PIPES", "M", True),
    ("Schmierfett Spezial", "LUBES", "KG", True),
    ("Getriebemotor 0,75 kW", "MOTORS", "ST", False),
    ("Kabel NYM-J 3×1,5", "CABLES", "M", True),
    ("Schraube M8×40 DIN 933", "FASTENERS", "ST", False),
    ("Granulat PE-HD", "RESINS", "KG", True),
    ("Steuerungseinheit S7", "CONTROLS", "ST", False),
)
_EMPLOYEES = (
    ("00004711", "Jürgen Weiß"),
    ("00004712", "佐藤 花子"),
    ("00004713", "Zoë Brontë"),
    ("00004714", "Maximilian Größer"),
    ("00004715", "Ana Núñez"),
    ("", None),
)
_CREATORS = ("MUELLERH", "TANAKAY", "SCHMIDTA", "BATCH_EDI", "WF-BATCH")
_ROUTES = ("R00001", "R00002", "DE0001", "")
_PRIORITIES = ("01", "02", "02", "03", "04", "05", "06", "07", "08", "09", "", "  ", None)
_EXCHANGE_RATES = {  # to the company code's EUR
    "EUR": Decimal("1.00000"),
    "CHF": Decimal("1.04215"),
    "USD": Decimal("0.92310"),
    "JPY": Decimal("-161.23400"),  # SAP stores indirect quotations as negative rates
}


def _pick(rng: random.Random, options: Sequence):
    return options[int(rng.random() * len(options))]


@lru_cache(maxsize=8)
def _customers(seed: int) -> tuple[Customer, ...]:
    rng = random.Random(f"{seed}:customers")
    customers = []
    for index in range(400):
        country = _pick(rng, tuple(_COUNTRIES))
        cities, currency, sales_org = _COUNTRIES[country]
        city, region = _pick(rng, cities)
        # About one customer in a hundred carries an emoji in its name.
        name = _pick(rng, _EMOJI_NAMES) if rng.random() < 0.01 else _pick(rng, _COMPANY_NAMES[country])
        incoterms, location = _pick(rng, _INCOTERMS)
        customers.append(
            Customer(
                number=f"{100_000 + index * 7:010d}",
                name=name,
                city=city,
                region=region,
                country=country,
                currency=currency,
                sales_org=sales_org,
                incoterms=incoterms,
                incoterms_location=location,
                payment_terms=_pick(rng, _PAYMENT_TERMS),
            )
        )
    return tuple(customers)


@lru_cache(maxsize=8)
def _materials(seed: int) -> tuple[Material, ...]:
    rng = random.Random(f"{seed}:materials")
    materials = []
    for index in range(300):
        description, group, unit, fractional = _pick(rng, _MATERIAL_NAMES)
        # Numeric material numbers are stored with leading zeros to 18 digits, as SAP does.
        number = f"{4_000_000 + index * 13:018d}" if rng.random() < 0.7 else f"{group[:3]}-{index:05d}"
        gross = Decimal(rng.randrange(1, 250_000)).scaleb(-3)
        materials.append(
            Material(
                number=number,
                description=description,
                group=group,
                unit=unit,
                gross_weight=gross,
                net_weight=(gross * Decimal("0.9")).quantize(_MILLI),
                volume=Decimal(rng.randrange(0, 5_000)).scaleb(-3),
                fractional=fractional,
                weight_unit=_pick(rng, ("KG", "KG", "KG", "G", "")),
                volume_unit=_pick(rng, ("M3", "M3", "L", "")),
            )
        )
    return tuple(materials)


# --- SAP raw encodings -----------------------------------------------------------------------


def _below(rng: random.Random, limit: int) -> int:
    """A uniform int in [0, limit); cheaper than randrange, which matters at a million rows."""
    return int(rng.random() * limit)


def _dats(day: dt.date) -> str:
    return day.isoformat().replace("-", "")


def _dats_or_missing(rng: random.Random, day: dt.date) -> str | None:
    """DATS text, or one of SAP's three "no date" forms on a few rows."""
    draw = rng.random()
    if draw < 0.03:
        return "00000000"
    if draw < 0.05:
        return ""
    if draw < 0.06:
        return None
    return _dats(day)


def _tims(rng: random.Random) -> str | None:
    draw = rng.random()
    if draw < 0.03:
        return "000000"
    if draw < 0.05:
        return ""
    if draw < 0.06:
        return "      "
    if draw < 0.07:
        return None
    return f"{_below(rng, 24):02d}{_below(rng, 60):02d}{_below(rng, 60):02d}"


def _datetime2_text(rng: random.Random, day: dt.date) -> str:
    """A datetime2(7) literal with all seven fractional digits (100 ns ticks)."""
    if rng.random() < 0.05:
        # Ticks of .9999999 round into the next second but must truncate to .999999.
        fraction = 9_999_999
    else:
        fraction = _below(rng, 10_000_000)
    return (
        f"{day.isoformat()} {_below(rng, 24):02d}:{_below(rng, 60):02d}:{_below(rng, 60):02d}.{fraction:07d}"
    )


# --- rows ------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _block_layout(seed: int, block: int) -> tuple[tuple[int, int], ...]:
    """(document slot, item position) for each row of a block."""
    rng = random.Random(f"{seed}:block:{block}")
    layout: list[tuple[int, int]] = []
    slot = 0
    while len(layout) < ROWS_PER_BLOCK:
        items = min(1 + int(rng.random() * 5), ROWS_PER_BLOCK - len(layout))
        layout.extend((slot, position) for position in range(items))
        slot += 1 + (rng.random() < 0.3)  # skipped numbers: other document types in SAP
    return tuple(layout)


def row_key(seed: int, index: int) -> tuple[str, str]:
    """(SalesDocument, SalesDocumentItem) of row ``index``."""
    block, offset = divmod(index, ROWS_PER_BLOCK)
    slot, position = _block_layout(seed, block)[offset]
    document = FIRST_DOCUMENT + block * DOCUMENTS_PER_BLOCK + slot
    return f"{document:010d}", f"{(position + 1) * 10:06d}"


@lru_cache(maxsize=64)
def _document_header(seed: int, document: str) -> DocumentHeader:
    rng = random.Random(f"{seed}:document:{document}")
    customers = _customers(seed)
    customer = _pick(rng, customers)
    ship_to = customer if rng.random() < 0.8 else _pick(rng, customers)
    created_on = EXTRACT_DATE - dt.timedelta(days=int(rng.random() * 400))
    requested = created_on + dt.timedelta(days=3 + int(rng.random() * 90))
    employee, employee_name = _pick(rng, _EMPLOYEES)
    purchase_order = _pick(
        rng,
        (
            "",
            "   ",
            f"PO-{_below(rng, 10**6):06d}",
            f"4500{_below(rng, 10**6):06d}",
            "Mail vom Kunden 'dringend'",
        ),
    )
    return DocumentHeader(
        document_type=_pick(rng, ("TA", "TA", "TA", "ZOR", "KB", "SO")),
        customer=customer,
        ship_to=ship_to,
        purchase_order=purchase_order,
        purchase_order_date=_dats_or_missing(rng, created_on - dt.timedelta(days=int(rng.random() * 5))),
        created_on=None if rng.random() < 0.01 else created_on,
        created_at=_tims(rng),
        created_by=_pick(rng, _CREATORS),
        requested_delivery=_dats_or_missing(rng, requested),
        sales_office=_pick(rng, ("1010", "1020", "", "    ")),
        sales_group=_pick(rng, ("101", "102", "201", "")),
        sales_employee=employee,
        sales_employee_name=employee_name,
        credit_status=_pick(rng, ("", "", "", "A", "A", "B", "D", None)),
        delivery_block="" if rng.random() < 0.9 else _pick(rng, ("01", "Z1", "  ")),
        distribution_channel=_pick(rng, ("10", "10", "20")),
        division=_pick(rng, ("00", "01")),
        plant=_pick(rng, ("1000", "1000", "1100", "2000")),
        shipping_point=_pick(rng, ("1000", "1100")),
        route=_pick(rng, _ROUTES),
        complete_delivery=_pick(rng, ("X", "X", " ", "", None)),
    )


def _quantity(rng: random.Random, material: Material) -> Decimal:
    if material.fractional:
        return Decimal(1 + _below(rng, 4_999_999)).scaleb(-3)
    return Decimal(1 + _below(rng, 499)).quantize(_MILLI)


def build_row(seed: int, index: int, document: str, item: str) -> tuple:
    """One base-table row for the given key; content depends on (seed, index, document)."""
    header = _document_header(seed, document)
    rng = random.Random(f"{seed}:row:{index}:{document}:{item}")
    customer, ship_to = header.customer, header.ship_to
    material = _pick(rng, _materials(seed))

    ordered = _quantity(rng, material)
    draw = rng.random()
    if draw < 0.03:
        # Over-delivery: more left the warehouse than was ordered, the open quantity goes negative.
        delivered = (ordered * Decimal("1.1") + 1).quantize(_MILLI)
    elif draw < 0.4:
        delivered = (ordered * Decimal(_below(rng, 100)) / 100).quantize(_MILLI)
    else:
        delivered = Decimal("0.000")
    confirmed = ordered if rng.random() < 0.8 else (ordered / 2).quantize(_MILLI)
    open_quantity = ordered - delivered

    price_unit = _pick(rng, (Decimal(1), Decimal(1), Decimal(10), Decimal(100), Decimal(1000)))
    net_price = Decimal(1 + _below(rng, 4_999_999)).scaleb(-2)
    if rng.random() < 0.002:
        net_price = Decimal("999999999.99")  # largest decimal(11,2)
        ordered = confirmed = Decimal("1.000")
        delivered, open_quantity, price_unit = (
            Decimal("0.000"),
            Decimal("1.000"),
            Decimal(1),
        )
    net_value = (ordered * net_price / price_unit).quantize(_CENT)
    open_value = (open_quantity * net_price / price_unit).quantize(_CENT)
    tax = (net_value * Decimal("0.19")).quantize(_CENT)
    exchange_rate = _EXCHANGE_RATES[customer.currency]

    schedule_day = EXTRACT_DATE + dt.timedelta(days=int(rng.random() * 120))
    time_draw = rng.random()
    if time_draw < 0.02:
        schedule_line = None
    elif time_draw < 0.05:
        # The last tick a legacy datetime can hold in a day; its date must not roll over.
        schedule_line = dt.datetime.combine(schedule_day, dt.time(23, 59, 59, 997_000))
    else:
        schedule_line = dt.datetime.combine(schedule_day, dt.time())
    availability = schedule_day - dt.timedelta(days=int(rng.random() * 3))
    goods_issue = None if rng.random() < 0.03 else availability

    changed_day = EXTRACT_DATE - dt.timedelta(days=int(rng.random() * 30))
    changed_draw = rng.random()
    if changed_draw < 0.01:
        changed_at = DATETIME2_SENTINEL
    elif changed_draw < 0.03:
        changed_at = None
    else:
        changed_at = _datetime2_text(rng, changed_day)

    status_draw = rng.random()
    overall_status = "A" if status_draw < 0.6 else "B" if status_draw < 0.9 else _pick(rng, (" ", "", None))
    delivery_status = "A" if delivered == 0 else "B"

    return (
        document,
        item,
        header.document_type,
        customer.sales_org,
        header.distribution_channel,
        header.division,
        header.sales_office,
        header.sales_group,
        customer.number,
        customer.name,
        ship_to.number,
        ship_to.name,
        ship_to.city,
        ship_to.region,
        ship_to.country if rng.random() < 0.98 else "",
        header.purchase_order,
        header.purchase_order_date,
        header.created_on,
        header.created_at,
        header.created_by,
        header.requested_delivery,
        schedule_line,
        _dats_or_missing(rng, availability),
        goods_issue,
        material.number,
        material.description,
        material.group,
        "" if rng.random() < 0.8 else f"CM-{_below(rng, 10**5):05d}",
        header.plant,
        _pick(rng, ("0001", "0002", "")),
        header.shipping_point,
        header.route,
        _pick(rng, ("TAN", "TAN", "TANN", "ZTAN")),
        ordered,
        confirmed,
        delivered,
        open_quantity,
        material.unit,
        material.unit,
        net_price,
        price_unit,
        net_value,
        open_value,
        tax,
        customer.currency,
        exchange_rate,
        (material.gross_weight * ordered).quantize(_MILLI),
        (material.net_weight * ordered).quantize(_MILLI),
        material.weight_unit,
        (material.volume * ordered).quantize(_MILLI),
        material.volume_unit,
        _pick(rng, _PRIORITIES),
        customer.incoterms,
        customer.incoterms_location,
        customer.payment_terms,
        overall_status,
        delivery_status,
        header.credit_status,
        header.delivery_block,
        "" if rng.random() < 0.95 else _pick(rng, ("02", "10")),
        "" if rng.random() < 0.99 else "Z5",
        header.complete_delivery,
        header.sales_employee,
        header.sales_employee_name,
        _dats_or_missing(rng, changed_day),
        changed_at,
    )


def generate_rows(count: int, seed: int, start: int = 0) -> Iterator[tuple]:
    """Rows ``start`` .. ``start + count - 1`` of the demo source for ``seed``, in key order."""
    for index in range(start, start + count):
        document, item = row_key(seed, index)
        yield build_row(seed, index, document, item)
