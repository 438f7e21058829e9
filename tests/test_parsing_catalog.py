"""A catalog of bad and awkward files (``tests/files/``), each with its exact outcome.

Every file is either refused whole (nothing of it loaded) or loaded with exactly these daily totals
and exactly these lines rejected.
"""

from __future__ import annotations

import datetime as dt
import gc
import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flux_core.parsing import source as source_module
from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.upload import parse_upload

FILES = Path(__file__).parent / "files"
TODAY = dt.date(2024, 6, 30)


@dataclass(frozen=True)
class Loaded:
    format: str
    rows_total: int
    daily: dict[tuple[str, str], float]
    rejected: dict[int, str] = field(default_factory=dict)  # line -> a phrase of its reason
    warning: str | None = None
    mapping: dict[str, str] | None = None


@dataclass(frozen=True)
class Refused:
    reason: str


JAPANESE_MAPPING = {
    "order_id": "伝票番号",
    "date": "日付",
    "item": "商品名",
    "quantity": "数量",
    "unit_price": "単価",
}

CATALOG: dict[str, Loaded | Refused] = {
    "empty.csv": Refused("The file is empty"),
    "whitespace_only.csv": Refused("The file is empty"),
    "daily_header_only.csv": Refused("no data lines"),
    "unknown_layout.csv": Refused("Columns found: 'name', 'email'. Expected a daily summary"),
    "binary_garbage.csv": Refused("not text"),
    "excel_workbook.csv": Refused("Excel"),
    "pdf_report.csv": Refused("PDF"),
    "daily_gzip_truncated.csv.gz": Refused("damaged or incomplete"),
    "daily_ambiguous_dates.csv": Refused("ambiguous"),
    "daily_gzip.csv.gz": Loaded(
        "daily",
        3,
        {("2024-01-01", "sales"): 1, ("2024-01-02", "sales"): 2, ("2024-01-03", "sales"): 3},
    ),
    "daily_semicolon_decimal_comma.csv": Loaded(
        "daily",
        3,
        {
            ("2024-01-31", "sales"): 1234.5,
            ("2024-01-31", "covers"): 80,
            ("2024-02-01", "sales"): 987.25,
            ("2024-02-01", "covers"): 61,
        },
        # 12.50 in a file of decimal commas could be 1250 or 12.5: not guessed.
        {4: "like 1.234,50"},
    ),
    "daily_us_currency_month_first.csv": Loaded(
        "daily",
        3,
        {
            ("2024-01-31", "sales"): 1234.5,
            ("2024-01-31", "covers"): 80,
            ("2024-02-01", "sales"): 12000,
            ("2024-02-01", "covers"): 95,
            ("2024-02-02", "sales"): 99.99,
            ("2024-02-02", "covers"): 12,
        },
    ),
    "daily_utf8_bom_crlf.csv": Loaded(
        "daily", 2, {("2024-01-01", "sales"): 10.5, ("2024-01-02", "sales"): 11}
    ),
    "daily_utf16le_bom_tab.txt": Loaded(
        "daily",
        2,
        {
            ("2024-01-01", "sales"): 100,
            ("2024-01-01", "covers"): 7,
            ("2024-01-02", "sales"): 200,
            ("2024-01-02", "covers"): 9,
        },
    ),
    "daily_utf16be_no_bom.csv": Loaded("daily", 1, {("2024-01-01", "sales"): 5}),
    "daily_cp1252_euro.csv": Loaded(
        "daily", 2, {("2024-01-02", "sales"): 1000, ("2024-01-03", "sales"): 750}
    ),
    "daily_day_first_resolved.csv": Loaded(
        "daily", 2, {("2024-04-03", "sales"): 10, ("2024-04-13", "sales"): 20}
    ),
    "daily_ambiguity_resolved_by_future.csv": Loaded(
        "daily",
        2,
        {("2024-02-01", "sales"): 10, ("2024-06-07", "sales"): 20},
        warning="the other order puts dates in the future",
    ),
    "daily_trailing_totals.csv": Loaded(
        "daily",
        2,
        {
            ("2024-01-01", "sales"): 10,
            ("2024-01-01", "covers"): 1,
            ("2024-01-02", "sales"): 20,
            ("2024-01-02", "covers"): 2,
        },
        warning="2 total/summary line(s) were skipped",
    ),
    "daily_title_above_header.csv": Loaded(
        "daily",
        2,
        {("2024-01-01", "sales"): 10, ("2024-01-01", "covers"): 1},
        {6: "sales is not a number"},
    ),
    "daily_quoted_fields.csv": Loaded(
        "daily",
        2,
        {
            ("2024-01-01", "sales"): 1234.5,
            ("2024-01-01", "covers"): 3,
            ("2024-01-02", "sales"): 2000,
            ("2024-01-02", "covers"): 4,
        },
    ),
    "daily_too_many_fields.csv": Loaded(
        "daily",
        3,
        {("2024-01-01", "sales"): 10, ("2024-01-03", "sales"): 30},
        {3: "more fields than the header"},
    ),
    "daily_parenthesised_negative.csv": Loaded(
        "daily",
        3,
        {("2024-01-03", "sales"): 5},
        {2: "cannot be negative", 3: "cannot be negative"},
    ),
    "daily_with_timestamps.csv": Loaded(
        "daily", 2, {("2024-01-01", "sales"): 10, ("2024-01-02", "sales"): 20}
    ),
    "daily_month_names.csv": Loaded(
        "daily", 2, {("2024-01-05", "sales"): 10, ("2024-02-29", "sales"): 20}
    ),
    "daily_tab_delimited.tsv": Loaded(
        "daily", 2, {("2024-01-01", "sales"): 1, ("2024-01-02", "sales"): 2}
    ),
    "daily_formula_cells.csv": Loaded(
        "daily",
        3,
        {("2024-01-03", "sales"): 3},
        {2: "not a number", 3: "not a number"},
    ),
    "daily_mixed_decimal_separators.csv": Loaded(
        "daily",
        3,
        {("2024-01-01", "sales"): 1234.5, ("2024-01-03", "sales"): 7.25},
        {3: "not a number"},
    ),
    "line_items_no_quantity.csv": Loaded(
        "line_items",
        5,
        {
            ("2024-01-01", "items"): 3,
            ("2024-01-01", "orders"): 2,
            ("2024-01-02", "items"): 1,
            ("2024-01-02", "orders"): 1,
        },
        {5: "no item named"},
    ),
    "line_items_unit_price.csv": Loaded(
        "line_items",
        7,
        {
            ("2024-02-01", "items"): 3,
            ("2024-02-01", "orders"): 1,
            ("2024-02-01", "sales"): 2 * 2.95 + 7.50,
            ("2024-02-13", "items"): 1,
            ("2024-02-13", "orders"): 1,
            ("2024-02-13", "sales"): 2.95,
        },
        {
            5: "quantity cannot be negative",
            6: "no item named",
            7: "quantity is not a number",
            8: "in the future",
        },
    ),
    "line_items_line_total.csv": Loaded(
        "line_items",
        4,
        {("2024-03-01", "items"): 4, ("2024-03-01", "orders"): 2, ("2024-03-01", "sales"): 35},
        {5: "the price is missing"},
    ),
    "line_items_future_and_old_dates.csv": Loaded(
        "line_items",
        4,
        {("2024-01-01", "items"): 1, ("2024-01-01", "orders"): 1},
        {3: "in the future", 4: "before 2000-01-01", 5: "in the future"},
    ),
    "line_items_mapped.csv": Loaded(
        "line_items",
        2,
        {("2024-03-05", "items"): 3, ("2024-03-05", "orders"): 2, ("2024-03-05", "sales"): 13.5},
        mapping={
            "date": "Zeit",
            "order_id": "Beleg",
            "item": "Artikel",
            "quantity": "Menge",
            "unit_price": "Einzelpreis",
        },
    ),
    # A Japanese point-of-sale export, in Shift-JIS as Windows writes it (cp932).
    "line_items_cp932_japanese.csv": Loaded(
        "line_items",
        5,
        {
            ("2024-03-01", "items"): 6,
            ("2024-03-01", "orders"): 2,
            ("2024-03-01", "sales"): 2 * 850 + 400 + 3 * 600,
            ("2024-03-02", "items"): 2,
            ("2024-03-02", "orders"): 1,
            ("2024-03-02", "sales"): 850 + 980,
        },
        mapping=JAPANESE_MAPPING,
    ),
    "square_item_sales.csv": Loaded(
        "square_items",
        5,
        {
            ("2024-03-01", "items"): 4,
            ("2024-03-01", "orders"): 2,
            ("2024-03-01", "sales"): 9 + 3 + 4.5,
            ("2024-03-02", "items"): 10,
            ("2024-03-02", "orders"): 1,
            ("2024-03-02", "sales"): 1200,
        },
        {6: "a refund"},
    ),
    # Found by the fuzzer (tests/test_parsing_fuzz.py): an opening quote never closed runs to
    # the end, past the first 64 KB, into a byte that is not UTF-8 (Arrow's row handler failed on
    # it, out of reach of any except).
    "line_items_unclosed_quote_invalid_utf8.csv": Loaded(
        "line_items", 1, {}, {2: "the quantity is missing"}
    ),
    # A broken export: one field of 300 KB. It stayed "received" and blocked the restaurant.
    "daily_field_too_long.csv": Refused("Line 3 of the file cannot be read as CSV"),
    "daily_utf16be_bom.csv": Loaded(
        "daily", 2, {("2024-01-01", "sales"): 12.5, ("2024-01-02", "sales"): 7}
    ),
    # More than staging's numeric(14, 2) holds: a rejected line, not a failed batch.
    "daily_value_too_large.csv": Loaded(
        "daily", 2, {("2024-01-01", "sales"): 100}, {3: "larger than any day"}
    ),
    "toast_item_selection_details.csv": Loaded(
        "toast_items",
        4,
        {
            ("2024-03-01", "items"): 3,
            ("2024-03-01", "orders"): 1,
            ("2024-03-01", "sales"): 15 + 7,
            ("2024-03-13", "items"): 1,
            ("2024-03-13", "orders"): 1,
            ("2024-03-13", "sales"): 1030,
        },
        {4: "voided"},
    ),
}


def parse_file(name: str, mapping: dict[str, str] | None = None) -> ParsedUpload:
    with (FILES / name).open("rb") as stream:
        return parse_upload(stream, filename=name, today=TODAY, column_mapping=mapping)


def test_every_file_in_the_catalog_has_an_outcome() -> None:
    assert sorted(p.name for p in FILES.iterdir() if p.is_file()) == sorted(CATALOG)
    assert len(CATALOG) >= 30


@pytest.fixture
def nothing_swallowed() -> Iterator[None]:
    """No error raised where no code can catch it (a library's callback), as the fuzzer checks."""
    swallowed: list[BaseException | None] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: swallowed.append(u.exc_value)
    try:
        yield
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert swallowed == []


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_file(name: str, nothing_swallowed: None) -> None:
    expected = CATALOG[name]
    if isinstance(expected, Refused):
        with pytest.raises(UnreadableUpload, match=expected.reason):
            parse_file(name)
        return
    parsed = parse_file(name, expected.mapping)
    assert parsed.format == expected.format
    assert parsed.rows_total == expected.rows_total
    daily = {(d.isoformat(), m): v for d, m, v in parsed.daily.itertuples(index=False)}
    assert daily == pytest.approx(expected.daily)
    reasons = parsed.rejected.groupby("line_number")["reason"].agg(" / ".join).to_dict()
    assert sorted(reasons) == sorted(expected.rejected)
    for line, phrase in expected.rejected.items():
        assert phrase in reasons[line]
    if expected.warning:
        assert any(expected.warning in w for w in parsed.warnings)
    if parsed.items is not None:
        # The per-item table adds up to the same daily items.
        per_day = parsed.items.groupby("date")["quantity"].sum()
        assert {(d.isoformat(), "items"): q for d, q in per_day.items()} == {
            k: v for k, v in daily.items() if k[1] == "items"
        }


def test_a_shift_jis_export_keeps_its_item_names() -> None:
    parsed = parse_file("line_items_cp932_japanese.csv", JAPANESE_MAPPING)
    assert parsed.items is not None
    assert set(parsed.items["item"]) == {"醤油ラーメン", "餃子", "生ビール（中）", "唐揚げ定食"}


def test_a_western_code_page_is_not_taken_for_another() -> None:
    # charset-normalizer alone calls this cp775; the euro sign decides for cp1252.
    head = (FILES / "daily_cp1252_euro.csv").read_bytes()
    assert source_module.open_source(io.BytesIO(head)).encoding == "cp1252"


def test_a_gzip_bomb_is_refused_before_it_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 MB of one repeated line compresses ~1000x; the grace allowance is lowered to keep it fast.
    monkeypatch.setattr(source_module, "RATIO_GRACE_BYTES", 1024 * 1024)
    bomb = gzip.compress(b"date,sales\n" + b"2024-01-01,1\n" * (64 * 1024 * 1024 // 13), 1)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(UnreadableUpload, match="expands to far more data"):
        parse_upload(io.BytesIO(bomb), filename="sales.csv.gz", today=TODAY)


def test_gzip_within_the_ratio_loads() -> None:
    lines = "".join(f"2024-01-{d:02d},{d * 17.25}\n" for d in range(1, 29))
    parsed = parse_upload(
        io.BytesIO(gzip.compress(("date,sales\n" + lines).encode())),
        filename="sales.csv.gz",
        today=TODAY,
    )
    assert parsed.rows_total == 28
    assert parsed.daily["value"].sum() == pytest.approx(sum(d * 17.25 for d in range(1, 29)))
