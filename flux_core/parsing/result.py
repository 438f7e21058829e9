"""What parsing an upload gives back: valid data and rejected lines, or a refusal of the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
import pyarrow as pa

REJECTED_COLUMNS = ["line_number", "column_name", "value", "reason"]
# The valid daily rows as staging takes them (by day, then metric).
DAILY_ROWS = pa.schema([("date", pa.date32()), ("metric", pa.string()), ("value", pa.float64())])
# What a line-item export sold per (day, item), by day; revenue is null without prices.
ITEM_ROWS = pa.schema(
    [
        ("date", pa.date32()),
        ("item", pa.string()),
        ("quantity", pa.float64()),
        ("revenue", pa.float64()),
    ]
)

# A booking export's bookings, one row per line kept: the store (null without a store column),
# the visit's day, the day the booking was made, and the party size.
BOOKING_ROWS = pa.schema(
    [
        ("line_number", pa.int64()),
        ("store", pa.string()),
        ("visit_date", pa.date32()),
        ("booked_on", pa.date32()),
        ("covers", pa.float64()),
    ]
)


@dataclass(frozen=True)
class ParsedUpload:
    format: str
    daily_rows: pa.Table  # DAILY_ROWS
    item_rows: pa.Table | None  # ITEM_ROWS, for line-item exports
    rejected: pd.DataFrame
    rows_total: int
    warnings: list[str] = field(default_factory=list)
    booking_rows: pa.Table | None = None  # BOOKING_ROWS, for booking exports

    @cached_property
    def daily(self) -> pd.DataFrame:
        """The valid daily rows in pandas: ``date`` (``datetime.date``), ``metric``, ``value``."""
        return self.daily_rows.to_pandas(date_as_object=True)

    @cached_property
    def items(self) -> pd.DataFrame | None:
        """The item rows in pandas (date, item, quantity, revenue), or None for a daily summary."""
        return None if self.item_rows is None else self.item_rows.to_pandas(date_as_object=True)


def daily_rows(frame: pd.DataFrame) -> pa.Table:
    """A parser's daily frame (date objects, metric, value) as ``ParsedUpload.daily_rows``."""
    return pa.Table.from_pandas(frame[DAILY_ROWS.names], schema=DAILY_ROWS, preserve_index=False)


def rejections(
    line_numbers: pd.Series | list[int],
    column_name: str | None,
    values: pd.Series | list[str | None] | None,
    reason: str | pd.Series,
) -> pd.DataFrame:
    """Rejected lines in the report's shape; one reason (or one per line) for all of them."""
    lines = pd.Series(line_numbers, dtype="int64").reset_index(drop=True)
    if values is None:
        value_series = pd.Series([None] * len(lines), dtype=object)
    else:
        value_series = pd.Series(values, dtype=object).reset_index(drop=True)
        value_series = value_series.where(value_series.notna(), None)
    reasons = (
        reason.astype(object).reset_index(drop=True)
        if isinstance(reason, pd.Series)
        else pd.Series([reason] * len(lines), dtype=object)
    )
    return pd.DataFrame(
        {
            "line_number": lines,
            "column_name": pd.Series([column_name] * len(lines), dtype=object),
            "value": value_series,
            "reason": reasons,
        }
    )


def no_rejections() -> pd.DataFrame:
    # Most uploads reject nothing; building the empty frame costs more than reading a small file.
    return _NO_REJECTIONS.copy()


_NO_REJECTIONS = rejections([], None, None, "")


def combine_rejections(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return no_rejections()
    combined = pd.concat(frames, ignore_index=True)
    return combined.sort_values(["line_number"], kind="stable").reset_index(drop=True)
