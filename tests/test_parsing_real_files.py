"""The real exports in ``../shared/data/`` parse, and their daily totals match a count of the raw
file made here independently, with the csv module and the documented rules:
every line counts (exact repeats too); bread_basket has no quantity (a line is one unit) and its
item "NONE" is not an item (those lines are rejected)."""

from __future__ import annotations

import collections
import csv
import datetime as dt
from pathlib import Path

import pytest

from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.upload import parse_upload

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TODAY = dt.date(2025, 1, 1)

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"the shared real datasets are not on this machine ({DATA})"
)


def parse(path: Path) -> ParsedUpload:
    with path.open("rb") as stream:
        return parse_upload(stream, filename=path.name, today=TODAY)


def daily(parsed: ParsedUpload, metric: str) -> dict[dt.date, float]:
    rows = parsed.daily[parsed.daily["metric"] == metric]
    return dict(zip(rows["date"], rows["value"], strict=True))


def test_london_takeaway_orders_match_an_independent_count() -> None:
    path = DATA / "london_takeaway" / "restaurant-1-orders.csv"
    sales: dict[dt.date, float] = collections.defaultdict(float)
    items: dict[dt.date, float] = collections.defaultdict(float)
    orders: dict[dt.date, set[str]] = collections.defaultdict(set)
    lines = 0
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            lines += 1
            day = dt.datetime.strptime(row["Order Date"], "%d/%m/%Y %H:%M").date()
            quantity = int(row["Quantity"])
            sales[day] += quantity * float(row["Product Price"])
            items[day] += quantity
            orders[day].add(row["Order Number"])

    parsed = parse(path)
    assert parsed.format == "line_items"
    assert parsed.rows_total == lines == 74_818
    assert parsed.rejected.empty
    assert daily(parsed, "items") == items
    assert daily(parsed, "orders") == {d: len(o) for d, o in orders.items()}
    assert daily(parsed, "sales") == pytest.approx(dict(sales))
    assert sum(len(o) for o in orders.values()) == 13_397
    assert min(sales) == dt.date(2015, 9, 1) and max(sales) == dt.date(2019, 8, 3)
    assert parsed.items is not None
    assert parsed.items["quantity"].sum() == sum(items.values())
    assert parsed.items["item"].nunique() == 248


def test_bread_basket_matches_an_independent_count() -> None:
    path = DATA / "bread_basket" / "BreadBasket_DMS.csv"
    items: dict[dt.date, int] = collections.defaultdict(int)
    orders: dict[dt.date, set[str]] = collections.defaultdict(set)
    lines = none_lines = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            lines += 1
            if row["Item"] == "NONE":
                none_lines += 1
                continue
            day = dt.date.fromisoformat(row["Date"])
            items[day] += 1
            orders[day].add(row["Transaction"])

    parsed = parse(path)
    assert parsed.format == "line_items"
    assert parsed.rows_total == lines == 21_293
    assert none_lines == 786
    assert len(parsed.rejected) == none_lines
    assert set(parsed.rejected["reason"]) == {"no item named on this line"}
    assert daily(parsed, "items") == items
    assert daily(parsed, "orders") == {d: len(o) for d, o in orders.items()}
    assert "sales" not in set(parsed.daily["metric"])  # no prices in this export
