"""pandera schemas for uploaded sales, after each cell is parsed into its type.

They hold the rules a value must meet to be loaded; failures become rejected lines with the
reason in ``REASONS`` (a restaurant owner reads these).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

import pandas as pd
import pandera.pandas as pa

EARLIEST_DATE = dt.date(2000, 1, 1)


def _not_before_earliest(dates: pd.Series) -> pd.Series:
    return dates.map(lambda d: d >= EARLIEST_DATE).astype(bool)


def _not_after(today: dt.date) -> pa.Check:
    return pa.Check(
        lambda dates: dates.map(lambda d: d <= today).astype(bool),
        name="not_in_future",
    )


def _unique_dates(dates: pd.Series) -> pd.Series:
    return ~dates.duplicated(keep=False)


NON_NEGATIVE = pa.Check(lambda values: values >= 0, name="non_negative")
# flux.staged_sales keeps numeric(14, 2); a value it cannot hold is the file's error, found here,
# not a failure of the database's write (which would fail every upload of the batch).
MAX_AMOUNT = 1e12
# flux.staged_item_sales keeps quantities as numeric(14, 3).
MAX_QUANTITY = 1e11
BELOW_MAX = pa.Check(lambda values: values < MAX_AMOUNT, name="below_max")
QUANTITY_BELOW_MAX = pa.Check(lambda values: values < MAX_QUANTITY, name="quantity_below_max")
PLAUSIBLE_DATE = pa.Check(_not_before_earliest, name="not_before_earliest")


def daily_schema(today: dt.date, measures: Sequence[str]) -> pa.DataFrameSchema:
    """One line of a daily summary: a date (once per file) and its non-negative measures."""
    return _daily_schema(today, tuple(measures))


# Building a schema costs about as much as validating a small file with it; a loader sees the
# same few (day, measures) pairs over and over.
@functools.lru_cache(maxsize=64)
def _daily_schema(today: dt.date, measures: tuple[str, ...]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "line_number": pa.Column("int64"),
            "date": pa.Column(
                object,
                checks=[
                    PLAUSIBLE_DATE,
                    _not_after(today),
                    pa.Check(_unique_dates, name="unique_date"),
                ],
            ),
            **{m: pa.Column("float64", [NON_NEGATIVE, BELOW_MAX], nullable=True) for m in measures},
        },
        strict=True,
        ordered=False,
    )


# What flux.staged_sales takes (its metric check).
STAGED_METRICS = ("sales", "covers", "orders", "items")


@functools.lru_cache(maxsize=8)
def staged_daily_schema(today: dt.date) -> pa.DataFrameSchema:
    """The long rows a batch of uploads is about to write, keyed by the upload's position in the
    batch: a known metric, a plausible day, a non-negative value, each (upload, metric, day) once.

    Checked once per batch over every upload's rows, in bulk (dates as datetime64, not objects).
    """
    return pa.DataFrameSchema(
        {
            "upload": pa.Column("int64"),
            "metric": pa.Column(None, pa.Check.isin(STAGED_METRICS)),
            "date": pa.Column(
                "datetime64[s]",
                [pa.Check.ge(pd.Timestamp(EARLIEST_DATE)), pa.Check.le(pd.Timestamp(today))],
            ),
            "value": pa.Column("float64", [NON_NEGATIVE, BELOW_MAX]),
        },
        unique=["upload", "metric", "date"],
        strict=True,
    )


def staged_daily_violations(frame: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """The rows of ``frame`` that ``staged_daily_schema`` refuses (index, check); empty if none."""
    try:
        staged_daily_schema(today).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return pd.DataFrame(
            {"index": cases["index"].to_numpy(), "check": cases["check"].astype(str).to_numpy()}
        )
    return pd.DataFrame({"index": [], "check": []})


_LINE_ITEM_SCHEMA = pa.DataFrameSchema(
    {
        "quantity": pa.Column("float64", [NON_NEGATIVE, QUANTITY_BELOW_MAX]),
        "price": pa.Column("float64", [NON_NEGATIVE, BELOW_MAX], nullable=True),
    },
    strict=True,
)


def line_item_schema() -> pa.DataFrameSchema:
    """A distinct (quantity, price) of a line-item export, as parsed: a file of millions of lines
    has a few hundred, each checked once, and a failure is spread back to every line that has it
    (dates are checked once per distinct day, by ``day_schema``)."""
    return _LINE_ITEM_SCHEMA


@functools.lru_cache(maxsize=64)
def day_schema(today: dt.date) -> pa.DataFrameSchema:
    """The distinct days of a line-item export."""
    return pa.DataFrameSchema(
        {"date": pa.Column(object, checks=[PLAUSIBLE_DATE, _not_after(today)])}, strict=False
    )


def reason(check: str, column: str, today: dt.date) -> str:
    reasons = {
        "not_before_earliest": (
            f"the date is before {EARLIEST_DATE.isoformat()}; that is too old to be this "
            "restaurant's sales"
        ),
        "not_in_future": (
            f"the date is after today ({today.isoformat()}): sales cannot be in the future"
        ),
        "unique_date": "this date is on more than one line with different values; none was loaded",
        "non_negative": f"{column} cannot be negative",
        "below_max": f"{column} is larger than any day of a restaurant can be (a broken cell?)",
        "quantity_below_max": f"{column} is larger than any day of a restaurant can be (a broken cell?)",
    }
    return reasons.get(check, f"{column} failed the check {check}")


def failures(schema: pa.DataFrameSchema, frame: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """Runs the schema lazily; returns one row per failing cell (index, column, value, reason)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        cell_level = cases[cases["index"].notna()]
        if len(cell_level) != len(cases):
            # A column missing or of the wrong type is our bug, not the restaurant's data.
            raise
        return pd.DataFrame(
            {
                "index": cell_level["index"].astype("int64").to_numpy(),
                "column": cell_level["column"].astype(str).to_numpy(),
                "value": cell_level["failure_case"].astype(str).to_numpy(),
                "reason": [
                    reason(str(check), str(column), today)
                    for check, column in zip(cell_level["check"], cell_level["column"], strict=True)
                ],
            }
        )
    return pd.DataFrame({"index": [], "column": [], "value": [], "reason": []})
