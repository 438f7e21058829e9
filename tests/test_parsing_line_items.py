"""Line-item exports: exact line numbers however the file is written or cut into blocks, the date
format chosen from the whole file, orders counted once, and outliers flagged, not dropped."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import io

import pytest

from flux_core.parsing import records
from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.upload import parse_upload

TODAY = dt.date(2024, 6, 30)
HEADER = "Order Number,Order Date,Item Name,Quantity,Product Price,Total products"


def parse(data: bytes | str, today: dt.date = TODAY) -> ParsedUpload:
    raw = data.encode() if isinstance(data, str) else data
    return parse_upload(io.BytesIO(raw), filename="orders.csv", today=today)


def rejected(parsed: ParsedUpload) -> list[tuple[int, str | None, str | None]]:
    return [(r.line_number, r.column_name, r.value) for r in parsed.rejected.itertuples()]


def totals(parsed: ParsedUpload) -> dict[tuple[str, str], float]:
    return {(d.isoformat(), m): v for d, m, v in parsed.daily.itertuples(index=False)}


# Lines 2-3 are one record (a quoted item name with a line break), line 5 is blank, line 6 has a
# quantity that is not a number, line 8 has too many fields, line 9 too few (no price).
AWKWARD = "\n".join(
    [
        HEADER,
        '1,13/02/2024 20:25,"Naan',
        'with butter",2,2.60,2',
        "1,13/02/2024 20:25,Rice,1,3.95,2",
        "",
        "2,14/02/2024 12:00,Dal,x,7.50,1",
        '3,14/02/2024 12:10,"Tikka, large",1,9.00,1',
        "4,14/02/2024 12:20,Dal,1,7.50,1,extra",
        "5,14/02/2024 12:30,Dal,1",
        "6,14/02/2024 12:40,Dal,2,7.50,1",
        "",
    ]
)
AWKWARD_REJECTED = [
    (6, "Quantity", "x"),
    (8, None, None),
    (9, "Product Price", ""),
]
AWKWARD_TOTALS = {
    ("2024-02-13", "items"): 3,
    ("2024-02-13", "orders"): 1,
    ("2024-02-13", "sales"): 2 * 2.60 + 3.95,
    ("2024-02-14", "items"): 3,
    ("2024-02-14", "orders"): 2,
    ("2024-02-14", "sales"): 9.00 + 15.00,
}


def test_line_numbers_stay_physical_across_quoted_line_breaks_blank_and_ragged_lines() -> None:
    parsed = parse(AWKWARD)
    assert rejected(parsed) == AWKWARD_REJECTED
    assert "more fields" in parsed.rejected["reason"][1]
    assert parsed.rejected["reason"][2] == "the price is missing"
    assert parsed.rows_total == 7
    assert totals(parsed) == pytest.approx(AWKWARD_TOTALS)
    assert parsed.items is not None
    assert "Naan\nwith butter" in set(parsed.items["item"])


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.replace("\n", "\r\n").encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"),
        lambda text: text.encode("utf-16"),
        lambda text: text.replace("\n", "\r").encode("utf-8"),  # old Mac line ends
        lambda text: gzip.compress(text.encode("utf-8")),
        lambda text: text.replace("Dal", "Dal fritée").encode("cp1252"),
    ],
    ids=["crlf", "bom-crlf", "utf16", "cr", "gzip", "cp1252"],
)
def test_line_numbers_are_the_same_in_every_encoding_and_line_end(encode) -> None:  # type: ignore[no-untyped-def]
    parsed = parse(encode(AWKWARD))
    assert rejected(parsed) == AWKWARD_REJECTED
    assert totals(parsed) == pytest.approx(AWKWARD_TOTALS)


def test_blocks_cut_anywhere_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # Quotes inside unquoted fields beside a quoted line break. One ending a field (Pizza 12")
    # looks like a closing quote: NumPy's split and Arrow's disagree, and the csv module reads
    # that block.
    body = AWKWARD + (
        '7,14/02/2024 12:50,12" Pizza,1,11.00,1\n'
        '7,14/02/2024 12:50,Pizza 12",1,11.00,1\n'
        "8,14/02/2024 13:00,Dal,-1,7.50,1\n"
    )
    whole = parse(body)
    assert rejected(whole) == [*AWKWARD_REJECTED, (13, "Quantity", "-1")]
    assert whole.items is not None
    assert {'12" Pizza', 'Pizza 12"'} <= set(whole.items["item"])
    for size in (7, 33, 64, 150):
        monkeypatch.setattr(records, "BLOCK_BYTES", size)
        cut = parse(body)
        assert rejected(cut) == rejected(whole), size
        assert totals(cut) == pytest.approx(totals(whole)), size
        assert cut.rows_total == whole.rows_total


def test_a_date_format_settled_late_rejects_the_early_lines_it_contradicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first block's dates fit month-first (03/25/2024) or both; later blocks are day-first.
    # Chosen from the whole file: day-first, so line 2, read long before, is the one rejected.
    lines = [HEADER, "1,03/25/2024 12:00,Dal,1,7.50,1"]
    lines += [f"{n},0{n % 9 + 1}/03/2024 12:00,Dal,1,7.50,1" for n in range(2, 30)]
    lines += [f"{n},{n - 17}/04/2024 12:00,Naan,2,2.60,1" for n in range(30, 45)]
    monkeypatch.setattr(records, "BLOCK_BYTES", 200)
    parsed = parse("\n".join(lines) + "\n")
    assert rejected(parsed) == [(2, "Order Date", "03/25/2024")]
    assert "not a date as this file writes them (like 31/01/2024)" in parsed.rejected["reason"][0]
    assert totals(parsed)[("2024-04-13", "items")] == 2
    assert ("2024-03-25", "items") not in totals(parsed)


def test_orders_are_counted_once_per_day_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "BLOCK_BYTES", 64)
    body = "\n".join(
        [
            HEADER,
            "A-1,13/03/2024 12:00,Dal,1,7.50,1",
            "012,13/03/2024 12:00,Dal,1,7.50,1",
            "12,13/03/2024 12:00,Dal,1,7.50,1",  # not the order 012
            "A-1,13/03/2024 12:05,Naan,1,2.60,1",
            "12,13/03/2024 12:06,Naan,1,2.60,1",
            "A-1,14/03/2024 12:00,Naan,1,2.60,1",  # the same order id on another day
        ]
    )
    parsed = parse(body)
    assert totals(parsed)[("2024-03-13", "orders")] == 3
    assert totals(parsed)[("2024-03-14", "orders")] == 1


def test_outlying_days_and_absurd_quantities_are_flagged_and_still_loaded() -> None:
    lines = [HEADER]
    for day in range(1, 29):
        lines += [f"{day}{n},{day:02d}/02/2024 12:00,Dal,1,7.50,1" for n in range(8 + day % 5)]
        if day == 20:
            naans = len(lines) + 1
        quantity = 5000 if day == 20 else 1
        lines.append(f"{day}99,{day:02d}/02/2024 13:00,Naan,{quantity},2.60,1")
    parsed = parse("\n".join(lines) + "\n")
    assert parsed.rejected.empty
    day_20 = 8 + 20 % 5 + 5000
    assert totals(parsed)[("2024-02-20", "items")] == day_20
    warnings = " | ".join(parsed.warnings)
    assert "1 unusual items sold per day value(s)" in warnings
    assert f"2024-02-20 ({day_20})" in warnings
    assert "unusual orders per day" not in warnings
    assert f"1 line(s) with an unusually large Quantity (the usual is 1): line {naans} (5000)" in (
        warnings
    )


def test_ordinary_files_have_no_outlier_warning() -> None:
    lines = [HEADER]
    for day in range(1, 29):
        lines += [f"{day}{n},{day:02d}/02/2024 12:00,Dal,{n % 3 + 1},7.50,1" for n in range(10)]
    parsed = parse("\n".join(lines) + "\n")
    assert not [w for w in parsed.warnings if "unusual" in w]


def test_a_daily_file_keeps_physical_line_numbers_after_a_quoted_line_break() -> None:
    # Daily files share the reader: a note spanning lines 3-4 does not shift line 5.
    body = 'date,sales,note\n2024-01-01,10,ok\n2024-01-02,20,"two\nlines"\n2024-01-03,x,\n'
    parsed = parse(body)
    assert rejected(parsed) == [(5, "sales", "x")]
    assert totals(parsed) == {("2024-01-01", "sales"): 10, ("2024-01-02", "sales"): 20}


def test_an_order_under_two_spellings_of_one_day_is_counted_once() -> None:
    body = "\n".join(
        [
            HEADER,
            *[f"{n},{n % 28 + 1:02d}/03/2024 12:00,Dal,1,7.50,1" for n in range(1, 60)],
            "7,2024-03-08,Naan,1,2.60,1",  # order 7 is on 08/03/2024 above, as day-first
            "99,2024-03-08,Naan,1,2.60,1",
        ]
    )
    parsed = parse(body)
    assert parsed.rejected.empty
    daily = totals(parsed)
    assert daily[("2024-03-08", "orders")] == 3  # 7, 35 and 99
    assert daily[("2024-03-08", "items")] == 4


def test_distinct_integers_match_numpy_whatever_the_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from flux_core.parsing.distinct import DistinctIntegers

    monkeypatch.setattr(DistinctIntegers, "MIN_PENDING", 16)
    rng = np.random.default_rng(7)
    pieces = [rng.integers(0, 5_000, rng.integers(0, 400), dtype=np.uint64) for _ in range(60)]
    seen = DistinctIntegers()
    for piece in pieces:
        seen.add(piece)
    assert np.array_equal(np.sort(seen.values()), np.unique(np.concatenate(pieces)))
