"""Booking exports: one line per booking, with the visit's day (and time), when the booking was
made, and the party size; optionally the store (a multi-store export) and a status.

What the models may use of a booking is only what was known at a forecast origin (the day it was
made), so a line is refused when its dates cannot be, or contradict each other: made after the
visit, made in the future, or for a visit more than a year ahead. Cancelled and no-show bookings
are left out (counted in a warning): they say nothing about who came.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.layouts import Layout
from flux_core.parsing.result import (
    BOOKING_ROWS,
    DAILY_ROWS,
    ParsedUpload,
    combine_rejections,
    rejections,
)
from flux_core.parsing.source import Candidate, TextSource
from flux_core.parsing.table import ReadStats, read_chunks
from flux_core.parsing.values import (
    ISO_FORMATS,
    date_keys,
    expected_date,
    parse_amounts,
    read_dates,
)

NO_BOOKINGS = "The file has a header but no bookings: there is nothing to load."
MAX_PARTY = 500  # a larger party is a typo, or a whole-venue event entered as one booking
MAX_DAYS_AHEAD = 366
CANCELLED = ("cancelled", "canceled", "cancellation", "no_show", "no-show", "noshow", "no show")


def _days(keys: pd.Series, fmt: str) -> pd.Series:
    """The day of each key in the file's date format (or written as an ISO date)."""
    days = pd.to_datetime(keys, format=fmt, errors="coerce")
    for iso in ISO_FORMATS:
        days = days.fillna(pd.to_datetime(keys, format=iso, errors="coerce"))
    return days.dt.normalize()


def parse_bookings(
    source: TextSource, header: Candidate, layout: Layout, today: dt.date
) -> ParsedUpload:
    stats = ReadStats()
    columns = layout.columns
    chunks = list(read_chunks(source, header, list(columns.values()), columns["visit"], stats))
    cells = pd.concat([c.cells for c in chunks]) if chunks else pd.DataFrame()
    if cells.empty:
        raise UnreadableUpload(NO_BOOKINGS)
    lines = pd.concat([c.lines for c in chunks]).astype("int64")
    too_many = pd.concat([c.too_many_fields for c in chunks])
    names = {role: header.cells[position] for role, position in columns.items()}
    problems = [
        rejections(
            lines[too_many],
            None,
            None,
            f"the line has more fields than the header's {len(header.cells)} columns",
        )
    ]
    bad = too_many.copy()

    status = cells[columns["status"]].str.lower() if "status" in columns else None
    cancelled = (
        status.isin(CANCELLED).fillna(False) & ~bad
        if status is not None
        else pd.Series(False, index=cells.index)
    )

    raw = {role: cells[columns[role]] for role in ("visit", "booked_at", "party_size")}
    for role, what in (("visit", "the visit's date"), ("booked_at", "when it was booked")):
        missing = (raw[role] == "") & ~bad
        problems.append(rejections(lines[missing], names[role], None, f"{what} is missing"))
        bad |= missing
    # Booking days are all in the past: they settle day-first against month-first (visits may
    # be ahead, which read_dates would take as a sign of the wrong order).
    booked_keys, visit_keys = date_keys(raw["booked_at"]), date_keys(raw["visit"])
    reading = read_dates(booked_keys[~bad], today)
    booked = _days(booked_keys, reading.format)
    visit = _days(visit_keys, reading.format)
    for role, days in (("visit", visit), ("booked_at", booked)):
        unreadable = days.isna() & ~bad
        problems.append(
            rejections(
                lines[unreadable],
                names[role],
                raw[role][unreadable],
                f"not a date as this file writes them (like {expected_date(reading.format)})",
            )
        )
        bad |= unreadable

    size, invalid = parse_amounts(raw["party_size"], ".")
    checks = (
        ((size.isna() | invalid), names["party_size"], "the party size is not a number"),
        (
            (size < 1) | (size != np.floor(size)),
            names["party_size"],
            "the party size must be a whole number of at least 1",
        ),
        (
            size > MAX_PARTY,
            names["party_size"],
            f"a party of more than {MAX_PARTY} is not plausible",
        ),
        (booked > visit, names["booked_at"], "the booking was made after the visit"),
        (booked > pd.Timestamp(today), names["booked_at"], "the booking is dated in the future"),
        (
            visit > pd.Timestamp(today) + pd.Timedelta(days=MAX_DAYS_AHEAD),
            names["visit"],
            f"the visit is more than {MAX_DAYS_AHEAD} days ahead",
        ),
    )
    for failing, column, reason in checks:
        failing = failing.fillna(False) & ~bad & ~cancelled
        shown = cells.loc[failing, header.cells.index(column)] if column in header.cells else None
        problems.append(rejections(lines[failing], column, shown, reason))
        bad |= failing

    store = None
    if "store" in columns:
        store = cells[columns["store"]]
        missing_store = (store == "") & ~bad & ~cancelled
        problems.append(
            rejections(lines[missing_store], names["store"], None, "the store is missing")
        )
        bad |= missing_store

    keep = ~bad & ~cancelled
    if not keep.any() and not cancelled.any():
        reasons = combine_rejections(problems)
        raise UnreadableUpload(
            "None of the file's bookings could be read; the first problem, on line "
            f"{int(reasons['line_number'].iloc[0])}: {reasons['reason'].iloc[0]}."
        )
    rows = pa.table(
        {
            "line_number": pa.array(lines[keep].to_numpy(), pa.int64()),
            "store": pa.nulls(int(keep.sum()), pa.string())
            if store is None
            else pa.array(store[keep].astype(object).to_numpy(), pa.string()),
            "visit_date": pa.array(visit[keep].dt.date.to_numpy(), pa.date32()),
            "booked_on": pa.array(booked[keep].dt.date.to_numpy(), pa.date32()),
            "covers": pa.array(size[keep].to_numpy("float64"), pa.float64()),
        },
        schema=BOOKING_ROWS,
    )
    warnings = []
    if reading.note:
        warnings.append(reading.note)
    if cancelled.any():
        warnings.append(
            f"{int(cancelled.sum())} cancelled or no-show booking(s) were left out, not loaded"
        )
    if stats.total_lines:
        warnings.append(f"{stats.total_lines} total/summary line(s) were skipped, not loaded")
    return ParsedUpload(
        format=layout.format,
        daily_rows=DAILY_ROWS.empty_table(),
        item_rows=None,
        rejected=combine_rejections(problems),
        rows_total=len(cells),
        warnings=warnings,
        booking_rows=rows,
    )
