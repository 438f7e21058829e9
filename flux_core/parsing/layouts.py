"""Which export a header belongs to, and which of its columns play which role.

Roles are our names: ``date``, ``time``, ``order_id``, ``item``, ``quantity``, ``unit_price``,
``line_total`` (line items), ``sales``, ``covers``, ``orders`` (daily summaries) and ``visit``,
``booked_at``, ``party_size``, ``store``, ``status`` (booking exports); ``void`` and ``event_type``
mark lines that a point-of-sale export lists but that were not sold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flux_core.parsing.errors import UnreadableUpload

DAILY_MEASURES = ("sales", "covers", "orders")
DAILY_ROLES = ("date", *DAILY_MEASURES)
LINE_ITEM_ROLES = ("date", "time", "order_id", "item", "quantity", "unit_price", "line_total")
BOOKING_ROLES = ("visit", "booked_at", "party_size", "store", "status")
BOOKINGS = "bookings"

# Header names people use, normalised (lower case, runs of other characters as "_").
SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": (
        "date",
        "day",
        "business_date",
        "sales_date",
        "visit_date",
        "service_date",
        "order_date",
        "transaction_date",
        "datum",
        "fecha",
        "data",
        "date_time",
        "datetime",
        "timestamp",
        "created_at",
        "order_time",
        "sent_date",
    ),
    "time": ("time", "order_time_of_day", "hour"),
    "sales": (
        "sales",
        "revenue",
        "net_sales",
        "total",
        "total_sales",
        "gross_sales",
        "turnover",
        "takings",
        "sales_amount",
        "amount",
        "net_revenue",
        "umsatz",
        "ventas",
    ),
    "covers": (
        "covers",
        "guests",
        "visitors",
        "customers",
        "pax",
        "guest_count",
        "cover_count",
        "number_of_guests",
        "of_guests",
        "gaeste",
        "gäste",
    ),
    "orders": (
        "orders",
        "transactions",
        "order_count",
        "checks",
        "tickets",
        "transaction_count",
        "number_of_orders",
        "receipts",
    ),
    "order_id": (
        "order_number",
        "order_id",
        "order_no",
        "order",
        "transaction",
        "transaction_id",
        "transaction_number",
        "receipt",
        "receipt_number",
        "receipt_id",
        "ticket",
        "ticket_id",
        "check_number",
        "check_id",
        "bill",
        "bill_number",
        "invoice",
        "invoice_number",
    ),
    "item": (
        "item",
        "item_name",
        "product",
        "product_name",
        "menu_item",
        "article",
        "dish",
        "description",
        "item_description",
        "sku_name",
    ),
    "quantity": ("quantity", "qty", "units", "count", "quantity_sold", "units_sold"),
    "unit_price": ("product_price", "price", "unit_price", "item_price", "price_each"),
    "line_total": ("line_total", "total_price", "line_amount", "net_price", "item_total"),
    # Booking exports (Recruit's air_reserve.csv: visit_datetime, reserve_datetime,
    # reserve_visitors, air_store_id). Only a file with all of visit, booked_at and party_size is
    # read as bookings.
    "visit": (
        "visit_datetime",
        "visit_date",
        "visit_at",
        "visit_time",
        "reservation_datetime",
        "reservation_date",
        "reserved_for",
        "date_of_visit",
        "arrival",
        "arrival_date",
    ),
    "booked_at": (
        "reserve_datetime",
        "reserve_date",
        "booked_at",
        "booked_on",
        "booking_made",
        "booking_made_at",
        "reservation_made",
        "made_on",
        "date_booked",
        "booking_created",
        "booking_created_at",
    ),
    "party_size": (
        "reserve_visitors",
        "party_size",
        "party",
        "covers",
        "guests",
        "pax",
        "people",
        "number_of_guests",
        "visitors",
    ),
    "store": (
        "air_store_id",
        "hpg_store_id",
        "store_id",
        "store",
        "restaurant_id",
        "location_id",
        "venue_id",
    ),
    "status": ("status", "reservation_status", "booking_status"),
}


def normalise(header: str) -> str:
    return re.sub(r"[^0-9a-zäöüß]+", "_", header.strip().lstrip("\ufeff").lower()).strip("_")


@dataclass(frozen=True)
class Layout:
    """A recognised export: its format name and, per role, the position of its column."""

    format: str
    columns: dict[str, int]
    # Columns whose value marks a line to leave out, e.g. Toast's "Void?" == true.
    exclusions: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_line_items(self) -> bool:
        return "item" in self.columns

    @property
    def is_bookings(self) -> bool:
        return self.format == BOOKINGS


def _find(normalised: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in normalised:
            return normalised.index(name)
    return None


def _roles(normalised: list[str], roles: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for role in roles:
        position = _find(normalised, SYNONYMS[role])
        if position is not None and position not in found.values():
            found[role] = position
    return found


def _toast(normalised: list[str]) -> Layout | None:
    # Toast's ItemSelectionDetails export.
    needed = {"order_id", "menu_item", "qty", "net_price"}
    if not needed <= set(normalised) or not {"sent_date", "order_date"} & set(normalised):
        return None
    date = _find(normalised, ("order_date", "sent_date"))
    assert date is not None
    columns = {
        "date": date,
        "order_id": normalised.index("order_id"),
        "item": normalised.index("menu_item"),
        "quantity": normalised.index("qty"),
        "line_total": normalised.index("net_price"),
    }
    exclusions: dict[int, tuple[str, ...]] = {}
    if "void" in normalised:
        exclusions[normalised.index("void")] = ("true", "yes", "1")
    return Layout("toast_items", columns, exclusions)


def _square(normalised: list[str]) -> Layout | None:
    # Square's "Item Sales" (item details) export.
    total = _find(normalised, ("net_sales", "gross_sales"))
    if total is None or not {"date", "item", "qty"} <= set(normalised):
        return None
    if not {"transaction_id", "price_point_name", "payment_id"} & set(normalised):
        return None
    order = _find(normalised, ("transaction_id", "payment_id"))
    columns = {
        "date": normalised.index("date"),
        "item": normalised.index("item"),
        "quantity": normalised.index("qty"),
        "line_total": total,
    }
    if order is not None:
        columns["order_id"] = order
    exclusions: dict[int, tuple[str, ...]] = {}
    if "event_type" in normalised:
        exclusions[normalised.index("event_type")] = ("refund",)
    return Layout("square_items", columns, exclusions)


def _line_items(normalised: list[str]) -> Layout | None:
    found = _roles(normalised, LINE_ITEM_ROLES)
    if not {"date", "order_id", "item"} <= found.keys():
        return None
    return Layout("line_items", found)


def _daily(normalised: list[str]) -> Layout | None:
    found = _roles(normalised, DAILY_ROLES)
    if "date" not in found or not set(DAILY_MEASURES) & found.keys():
        return None
    return Layout("daily", found)


def _bookings(normalised: list[str]) -> Layout | None:
    found = _roles(normalised, BOOKING_ROLES)
    if not {"visit", "booked_at", "party_size"} <= found.keys():
        return None
    return Layout(BOOKINGS, found)


# Bookings first: their headers hold a visit date and covers, which a daily summary would take.
DETECTORS = (_bookings, _toast, _square, _line_items, _daily)

EXPECTED = (
    "a daily summary (a date column and at least one of sales, covers or orders, e.g. "
    "'date,sales,covers'); a line-item export (date or timestamp, order/transaction id, item, "
    "and optionally quantity and price); a Square 'Item Sales' export; a Toast "
    "'ItemSelectionDetails' export; or a booking export (the visit's date and time, when the "
    "booking was made, the party size, e.g. 'visit_datetime,reserve_datetime,reserve_visitors')"
)


def detect_layout(headers: list[str]) -> Layout | None:
    normalised = [normalise(h) for h in headers]
    for detector in DETECTORS:
        layout = detector(normalised)
        if layout is not None:
            return layout
    return None


def describe_columns(headers: list[str]) -> str:
    shown = [h for h in headers if h.strip()][:20]
    return ", ".join(repr(h) for h in shown) if shown else "(none)"


def unrecognised(headers: list[str]) -> UnreadableUpload:
    return UnreadableUpload(
        f"We could not recognise the columns of this file. Columns found: "
        f"{describe_columns(headers)}. Expected {EXPECTED}."
    )


def mapped_layout(headers: list[str], mapping: dict[str, str]) -> Layout:
    """An explicit column mapping (our name -> the file's header) instead of detection."""
    known = set(DAILY_ROLES) | set(LINE_ITEM_ROLES) | set(BOOKING_ROLES)
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise UnreadableUpload(
            f"The column mapping names {', '.join(unknown)}, which we do not use; "
            f"it may name: {', '.join(sorted(known))}."
        )
    stripped = [h.strip().lower() for h in headers]
    columns: dict[str, int] = {}
    for ours, theirs in mapping.items():
        if theirs.strip().lower() not in stripped:
            raise UnreadableUpload(
                f"The column mapping says {ours!r} is the column {theirs!r}, but the file has no "
                f"such column. Columns found: {describe_columns(headers)}."
            )
        columns[ours] = stripped.index(theirs.strip().lower())
    if "visit" in columns:
        if not {"booked_at", "party_size"} <= columns.keys():
            raise UnreadableUpload(
                "A booking mapping must say which columns hold when the booking was made "
                "(booked_at) and the party size (party_size)."
            )
        return Layout(BOOKINGS, columns)
    if "date" not in columns:
        raise UnreadableUpload("The column mapping must say which column holds the date.")
    if "item" in columns:
        if "order_id" not in columns:
            raise UnreadableUpload(
                "A line-item mapping must say which column holds the order or transaction id."
            )
        return Layout("line_items", columns)
    if not set(DAILY_MEASURES) & columns.keys():
        raise UnreadableUpload(
            "The column mapping must name at least one of sales, covers or orders "
            "(or an item and order id for a line-item export)."
        )
    return Layout("daily", columns)
