"""Daily summaries: one line per day with sales, covers and/or orders.

Duplicate dates: a line that repeats an earlier line exactly is rejected as a repeat (the first is
kept); a date on several lines with different values is rejected on all of them, since we cannot
tell which is right.

Most daily files are plain: the header on the first line, then one line per day of an ISO date and
plain non-negative numbers. Such a file is read with string operations in well under a millisecond
(``plain.py``); any other file, or a plain one with a line the rules would reject, is read the careful
way below, whose outcomes are the reference the plain reading must match.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flux_core.parsing import schemas
from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.layouts import DAILY_MEASURES, Layout
from flux_core.parsing.outliers import outlier_warnings
from flux_core.parsing.plain import read_plain_daily
from flux_core.parsing.result import (
    ParsedUpload,
    combine_rejections,
    daily_rows,
    rejections,
)
from flux_core.parsing.source import Candidate, TextSource
from flux_core.parsing.table import ReadStats, read_chunks
from flux_core.parsing.values import (
    date_keys,
    decimal_separator,
    expected_amount,
    expected_date,
    parse_amounts,
    read_dates,
)

NO_DATA_LINES = "The file has a header but no data lines: there is nothing to load."


def parse_daily(
    source: TextSource, header: Candidate, layout: Layout, today: dt.date
) -> ParsedUpload:
    parsed, source = read_plain_daily(source, header, layout, today)
    if parsed is not None:
        return parsed
    return parse_daily_carefully(source, header, layout, today)


def parse_daily_carefully(
    source: TextSource, header: Candidate, layout: Layout, today: dt.date
) -> ParsedUpload:
    """Any daily file, line by line: every irregularity is either read or rejected with a reason."""
    stats = ReadStats()
    date_at = layout.columns["date"]
    measures = [m for m in DAILY_MEASURES if m in layout.columns]
    chunks = list(read_chunks(source, header, list(layout.columns.values()), date_at, stats))
    cells = pd.concat([c.cells for c in chunks]) if chunks else pd.DataFrame()
    if cells.empty:
        raise UnreadableUpload(NO_DATA_LINES)
    lines = pd.concat([c.lines for c in chunks])
    too_many = pd.concat([c.too_many_fields for c in chunks])
    names = {role: header.cells[position] for role, position in layout.columns.items()}
    problems: list[pd.DataFrame] = [
        rejections(
            lines[too_many],
            None,
            None,
            f"the line has more fields than the header's {len(header.cells)} columns",
        )
    ]

    raw_dates = cells[date_at]
    missing_date = raw_dates == ""
    problems.append(rejections(lines[missing_date], names["date"], None, "the date is missing"))
    keys = date_keys(raw_dates)
    reading = read_dates(keys[~missing_date], today)
    dates = keys.map(reading.dates).astype(object)
    bad_date = ~missing_date & dates.isna()
    problems.append(
        rejections(
            lines[bad_date],
            names["date"],
            raw_dates[bad_date],
            f"not a date as this file writes them (like {expected_date(reading.format)})",
        )
    )

    decimal = decimal_separator([cells[layout.columns[m]] for m in measures], header.delimiter)
    typed = pd.DataFrame({"line_number": lines.astype("int64"), "date": dates})
    bad = too_many | missing_date | bad_date
    for measure in measures:
        raw = cells[layout.columns[measure]]
        values, invalid = parse_amounts(raw, decimal)
        typed[measure] = values
        problems.append(
            rejections(
                lines[invalid],
                names[measure],
                raw[invalid],
                f"{measure} is not a number (amounts here are like {expected_amount(decimal)})",
            )
        )
        bad |= invalid
    nothing = typed[measures].isna().all(axis=1) & ~bad
    problems.append(
        rejections(
            lines[nothing],
            None,
            None,
            f"the line has no value for {' or '.join(names[m] for m in measures)}",
        )
    )
    bad |= nothing
    typed = typed[~bad]

    repeats = typed.duplicated(subset=["date", *measures], keep="first")
    first_line = typed.groupby("date")["line_number"].transform("first")
    problems.append(
        rejections(
            typed.loc[repeats, "line_number"],
            names["date"],
            typed.loc[repeats, "date"].map(str),
            "this line repeats line " + first_line[repeats].astype(str) + " exactly; loaded once",
        )
    )
    typed = typed[~repeats]
    # Reports show the cell as the file wrote it, e.g. "(12.00)", not the parsed -12.0.
    raw_cells = cells.loc[typed.index]
    typed = typed.reset_index(drop=True)

    failed = schemas.failures(schemas.daily_schema(today, measures), typed, today)
    if not failed.empty:
        failed_lines = typed["line_number"].to_numpy()[failed["index"].to_numpy()]
        column_names = failed["column"].map(lambda c: names.get(c, c))
        raw_values = [
            raw_cells.iat[i, raw_cells.columns.get_loc(layout.columns[c])]
            for i, c in zip(failed["index"], failed["column"], strict=True)
        ]
        problems.append(
            pd.DataFrame(
                {
                    "line_number": pd.Series(failed_lines, dtype="int64"),
                    "column_name": column_names.astype(object),
                    "value": pd.Series(raw_values, dtype=object),
                    "reason": failed["reason"].astype(object),
                }
            )
        )
        typed = typed.drop(index=failed["index"].unique())

    long = typed.melt(id_vars=["date"], value_vars=measures, var_name="metric", value_name="value")
    long = long.dropna(subset=["value"]).sort_values(["date", "metric"], kind="stable")
    warnings = outlier_warnings(typed, measures, names)
    if reading.note:
        warnings.insert(0, reading.note)
    if stats.total_lines:
        warnings.append(f"{stats.total_lines} total/summary line(s) were skipped, not loaded")
    return ParsedUpload(
        format=layout.format,
        daily_rows=daily_rows(long),
        item_rows=None,
        rejected=combine_rejections(problems),
        rows_total=len(cells),
        warnings=warnings,
    )
