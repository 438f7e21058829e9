"""Daily summary CSVs: recognised under the names people use, validated line by line."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.spreadsheet import spreadsheet_safe
from flux_core.parsing.upload import parse_upload

TODAY = dt.date(2024, 6, 30)


def parse(content: str | bytes, **kwargs: object) -> ParsedUpload:
    data = content.encode() if isinstance(content, str) else content
    return parse_upload(io.BytesIO(data), filename="sales.csv", today=TODAY, **kwargs)  # type: ignore[arg-type]


def wide(parsed: ParsedUpload) -> dict[tuple[str, str], float]:
    return {(d.isoformat(), m): v for d, m, v in parsed.daily.itertuples(index=False)}


def rejected(parsed: ParsedUpload) -> list[tuple[int, str | None, str | None]]:
    return [(r.line_number, r.column_name, r.value) for r in parsed.rejected.itertuples()]


def test_a_clean_daily_file_loads_every_value_in_long_format() -> None:
    parsed = parse("date,sales,covers\n2024-01-01,1234.50,80\n2024-01-02,999,61\n")
    assert parsed.format == "daily"
    assert parsed.items is None
    assert parsed.rows_total == 2
    assert parsed.rejected.empty
    assert wide(parsed) == {
        ("2024-01-01", "covers"): 80.0,
        ("2024-01-01", "sales"): 1234.5,
        ("2024-01-02", "covers"): 61.0,
        ("2024-01-02", "sales"): 999.0,
    }
    assert all(isinstance(d, dt.date) for d in parsed.daily["date"])
    assert list(parsed.daily.columns) == ["date", "metric", "value"]
    assert list(parsed.rejected.columns) == ["line_number", "column_name", "value", "reason"]


@pytest.mark.parametrize(
    ("header", "metrics"),
    [
        ("Date,Revenue,Guests", {"sales", "covers"}),
        ("DAY,Net Sales,Visitors", {"sales", "covers"}),
        ("Customers,Total,Business Date", {"covers", "sales"}),
        ("date,pax", {"covers"}),
        ("date,Transactions,turnover", {"orders", "sales"}),
    ],
)
def test_common_header_names_are_recognised_in_any_order(header: str, metrics: set[str]) -> None:
    names = [h.strip() for h in header.split(",")]
    row = ["2024-02-03" if "date" in n.lower() or n.lower() == "day" else "7" for n in names]
    parsed = parse(f"{header}\n{','.join(row)}\n")
    assert set(parsed.daily["metric"]) == metrics
    assert set(parsed.daily["value"]) == {7.0}
    assert set(parsed.daily["date"]) == {dt.date(2024, 2, 3)}


def test_each_bad_line_is_rejected_with_its_line_column_value_and_reason() -> None:
    content = (
        "date,sales,covers\n"  # line 1
        "2024-01-01,100,10\n"  # 2 ok
        "2024-01-02,-5,10\n"  # 3 negative sales
        "2024-01-03,abc,10\n"  # 4 not a number
        "2024-13-45,100,10\n"  # 5 not a date
        ",100,10\n"  # 6 no date
        "2024-07-01,100,10\n"  # 7 future (today is 2024-06-30)
        "1999-12-31,100,10\n"  # 8 too old
        "2024-01-09,,\n"  # 9 no values at all
        "2024-01-10,50,\n"  # 10 ok: covers unknown that day
    )
    parsed = parse(content)
    assert parsed.rows_total == 9
    assert rejected(parsed) == [
        (3, "sales", "-5"),
        (4, "sales", "abc"),
        (5, "date", "2024-13-45"),
        (6, "date", None),
        (7, "date", "2024-07-01"),
        (8, "date", "1999-12-31"),
        (9, None, None),
    ]
    reasons = dict(zip(parsed.rejected["line_number"], parsed.rejected["reason"], strict=True))
    assert reasons[3] == "sales cannot be negative"
    assert reasons[4] == "sales is not a number (amounts here are like 1,234.50)"
    assert "not a date" in reasons[5] and "2024-01-31" in reasons[5]
    assert reasons[6] == "the date is missing"
    assert "future" in reasons[7]
    assert "2000-01-01" in reasons[8]
    assert "no value" in reasons[9]
    assert wide(parsed) == {
        ("2024-01-01", "sales"): 100.0,
        ("2024-01-01", "covers"): 10.0,
        ("2024-01-10", "sales"): 50.0,
    }


def test_today_is_not_the_future() -> None:
    parsed = parse(f"date,sales\n{TODAY.isoformat()},10\n")
    assert parsed.rejected.empty
    assert wide(parsed) == {(TODAY.isoformat(), "sales"): 10.0}


def test_an_exact_repeat_is_loaded_once_and_a_conflicting_date_not_at_all() -> None:
    content = (
        "date,sales\n"
        "2024-01-01,100\n"  # 2
        "2024-01-02,200\n"  # 3
        "2024-01-01,100\n"  # 4: exact repeat of line 2
        "2024-01-02,250\n"  # 5: same day as line 3, other value
        "2024-01-03,300\n"  # 6
    )
    parsed = parse(content)
    assert rejected(parsed) == [
        (3, "date", "2024-01-02"),
        (4, "date", "2024-01-01"),
        (5, "date", "2024-01-02"),
    ]
    reasons = list(parsed.rejected["reason"])
    assert reasons[1] == "this line repeats line 2 exactly; loaded once"
    assert "more than one line" in reasons[0] and reasons[0] == reasons[2]
    assert wide(parsed) == {("2024-01-01", "sales"): 100.0, ("2024-01-03", "sales"): 300.0}


def test_blank_lines_and_total_lines_are_skipped_and_line_numbers_stay_physical() -> None:
    content = "\ndate,sales\n2024-01-01,10\n\n\n2024-01-02,x\n2024-01-03,30\n,,\nTotal,40\n"
    parsed = parse(content)
    assert parsed.rows_total == 3
    assert rejected(parsed) == [(6, "sales", "x")]
    assert wide(parsed) == {("2024-01-01", "sales"): 10.0, ("2024-01-03", "sales"): 30.0}
    assert any("total" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"date,sales\n", "no data lines"),
        (b"date,sales\n\n\n", "no data lines"),
    ],
)
def test_an_empty_file_is_refused(content: bytes, expected: str) -> None:
    with pytest.raises(UnreadableUpload, match=expected):
        parse(content)


def test_an_unrecognised_layout_is_refused_naming_the_columns_found_and_expected() -> None:
    with pytest.raises(UnreadableUpload) as refused:
        parse("when,how much\n2024-01-01,10\n")
    message = str(refused.value)
    assert "'when', 'how much'" in message
    assert "daily summary" in message and "sales" in message and "Square" in message


def test_a_date_column_alone_is_not_a_daily_summary() -> None:
    with pytest.raises(UnreadableUpload, match="Columns found: 'date', 'weather'"):
        parse("date,weather\n2024-01-01,sunny\n")


def test_unreadable_dates_in_every_line_refuse_the_file() -> None:
    with pytest.raises(UnreadableUpload, match="could not read the dates"):
        parse("date,sales\nyesterday,10\ntoday,20\n")


def test_an_outlier_is_kept_and_flagged() -> None:
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    values = [1000 + (i % 7) * 10 for i in range(30)]
    values[17] = 250_000
    lines = "".join(f"{d.date()},{v}\n" for d, v in zip(days, values, strict=True))
    parsed = parse("date,sales\n" + lines)
    assert parsed.rejected.empty
    assert wide(parsed)[("2024-01-18", "sales")] == 250_000.0
    assert len(parsed.warnings) == 1
    assert "line 19 (250000)" in parsed.warnings[0]


def test_an_explicit_column_mapping_replaces_detection() -> None:
    content = "Tag,Umsatz netto,Personen\n2024-03-01,10,2\n"
    parsed = parse(
        content, column_mapping={"date": "Tag", "sales": "Umsatz netto", "covers": "Personen"}
    )
    assert wide(parsed) == {("2024-03-01", "sales"): 10.0, ("2024-03-01", "covers"): 2.0}


def test_a_column_mapping_naming_a_missing_column_is_refused() -> None:
    with pytest.raises(UnreadableUpload, match="no such column"):
        parse("date,sales\n2024-01-01,1\n", column_mapping={"date": "date", "sales": "Umsatz"})


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Garlic Naan", "Garlic Naan"),
        ("", ""),
    ],
)
def test_spreadsheet_safe_neutralises_formulas(value: str, safe: str) -> None:
    assert spreadsheet_safe(value) == safe


def _carefully(content: str) -> ParsedUpload:
    from flux_core.parsing.daily import parse_daily_carefully
    from flux_core.parsing.source import open_source
    from flux_core.parsing.upload import _choose_header

    source = open_source(io.BytesIO(content.encode()))
    header, layout = _choose_header(source.candidates, None)
    return parse_daily_carefully(source, header, layout, TODAY)


def _plainly(content: str) -> ParsedUpload | None:
    from flux_core.parsing.plain import read_plain_daily
    from flux_core.parsing.source import open_source
    from flux_core.parsing.upload import _choose_header

    source = open_source(io.BytesIO(content.encode()))
    header, layout = _choose_header(source.candidates, None)
    return read_plain_daily(source, header, layout, TODAY)[0]


def _same(fast: ParsedUpload, careful: ParsedUpload) -> None:
    pd.testing.assert_frame_equal(fast.daily, careful.daily)
    pd.testing.assert_frame_equal(fast.rejected, careful.rejected)
    assert (fast.format, fast.rows_total, fast.warnings, fast.items) == (
        careful.format,
        careful.rows_total,
        careful.warnings,
        careful.items,
    )


def _days(count: int, first: str = "2024-01-01") -> list[str]:
    return [str(d.date()) for d in pd.date_range(first, periods=count)]


PLAIN_FILES = {
    "clean": "date,sales,covers\n"
    + "".join(f"{d},{100 + i % 9}.25,{i % 13}\n" for i, d in enumerate(_days(60))),
    "crlf, no final newline, columns in another order": "Guests,Day,Revenue\r\n"
    + "\r\n".join(f"{i % 13},{d},{1000 + i}" for i, d in enumerate(_days(20))),
    "days out of order, an outlier": "date,sales\n"
    + "".join(
        f"{d},{250000 if i == 17 else 1000 + (i % 7) * 10}\n" for i, d in enumerate(_days(30)[::-1])
    ),
    "three measures": "date,orders,sales,covers\n2024-01-02,5,10.5,3\n2024-01-01,4,9,2\n",
}


@pytest.mark.parametrize("name", sorted(PLAIN_FILES))
def test_a_plain_file_reads_as_the_careful_path_reads_it(name: str) -> None:
    plain = _plainly(PLAIN_FILES[name])
    assert plain is not None
    assert bool(plain.warnings) == ("outlier" in name)
    _same(plain, _carefully(PLAIN_FILES[name]))
    _same(parse(PLAIN_FILES[name]), _carefully(PLAIN_FILES[name]))


@pytest.mark.parametrize(
    "content",
    [
        "date,sales\n2024-01-01,10\n2024-01-01,10\n",  # a repeat
        "date,sales\n2024-01-01,10\n2024-02-30,10\n",  # no such day
        "date,sales\n2024-01-01,10\n2024-07-01,10\n",  # the future
        "date,sales\n2024-01-01,10\n\n2024-01-02,12\n",  # a blank line
        "date,sales\n2024-01-01, 10\n",  # a space
        'date,sales\n2024-01-01,"1,234.50"\n',  # quoted, thousands
        "date,sales\n2024-01-01,\n2024-01-02,4\n",  # an empty cell
        "date,sales,\n2024-01-01,10,\n",  # an unused column
        "date,sales\r2024-01-01,10\r",  # old Mac line ends
    ],
)
def test_a_file_that_is_not_plain_is_read_carefully(content: str) -> None:
    assert _plainly(content) is None
    _same(parse(content), _carefully(content))


def test_a_large_file_is_streamed_whole_to_the_careful_path() -> None:
    lines = [f"{d},{i % 500}.5,{i % 40}\n" for i, d in enumerate(_days(9000, "2000-01-01"))]
    lines[5000] = lines[5000].replace(".5,", ".5x,")
    content = "date,sales,covers\n" + "".join(lines) * 6  # ~1.9 MB: days repeat exactly
    parsed = parse(content)
    assert len(content) > (1 << 20)
    _same(parsed, _carefully(content))
    assert parsed.rows_total == 54000
    assert set(parsed.rejected["line_number"]) >= {5002}
