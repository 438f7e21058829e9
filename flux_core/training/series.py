"""One tenant-metric's daily history as a complete calendar: missing days are NaN, never zero."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from flux_core.calendars import PUBLIC, holiday_days

CLOSED_LOOKBACK_WEEKS = 8
CLOSED_MIN_EVIDENCE = 4  # trading weeks in which a weekday was shut, before it counts as closed
# A week counts as trading when the restaurant sold on this many of its days. An export that
# reports two or three days a week says nothing about the others; taking it as closure had the
# forecast read zero on days that sold (Recruit's sparse young stores: RMSLE 1.53 on the tuning
# window, most of it those zeros).
TRADING_WEEK_DAYS = 4


def daily_series(dates: pd.Series | pd.Index, values: pd.Series | pd.Index) -> pd.Series:
    """Values indexed by every day from the first to the last date (NaN where unknown)."""
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(pd.Series(dates, copy=False)).dt.normalize().to_numpy(),
            "value": pd.to_numeric(pd.Series(values, copy=False), errors="raise")
            .astype("float64")
            .to_numpy(),
        }
    )
    if frame.empty:
        raise ValueError("the series has no rows")
    if frame["date"].duplicated().any():
        raise ValueError("the series has duplicate dates")
    if (frame["value"] < 0).any():
        raise ValueError("the series has negative values")
    series = frame.set_index("date")["value"].sort_index()
    full = pd.date_range(series.index.min(), series.index.max(), freq="D")
    return series.reindex(full).rename("value")


def last_observed(series: pd.Series) -> pd.Timestamp:
    observed = series.dropna()
    if observed.empty:
        raise ValueError("the series has no observed values")
    return pd.Timestamp(observed.index.max())


def closed_weekdays(
    series: pd.Series,
    weeks: int = CLOSED_LOOKBACK_WEEKS,
    min_evidence: int = CLOSED_MIN_EVIDENCE,
) -> frozenset[int]:
    """ISO weekdays (1=Mon..7=Sun) with no sales (zero or missing) in the last ``weeks`` weeks,
    seen shut in at least ``min_evidence`` of those weeks in which the restaurant traded.

    A week with sales on fewer than ``TRADING_WEEK_DAYS`` days (works, holidays, before the first
    day, an export that skips days) says nothing about which days the restaurant opens: a
    restaurant four days old, or just back from a month's closure, has no closed weekday yet,
    rather than every day it has not been seen open on.
    """
    end = last_observed(series)
    window = series.loc[end - pd.Timedelta(days=7 * weeks - 1) : end]
    sold = np.nan_to_num(window.to_numpy(dtype="float64"), nan=0.0) > 0
    weekday = iso_weekdays(pd.DatetimeIndex(window.index))
    # Weeks counted back from the last observed day, so every week holds each weekday once.
    week = (len(window) - 1 - np.arange(len(window))) // 7
    traded = np.bincount(week, weights=sold, minlength=weeks) >= TRADING_WEEK_DAYS
    closed = set()
    for day in range(1, 8):
        on_day = weekday == day
        if sold[on_day].any():
            continue
        if int(traded[week[on_day]].sum()) >= min_evidence:
            closed.add(day)
    return frozenset(closed)


def iso_weekdays(dates: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(dates.day_of_week + 1)


def holiday_flags(place: str, dates: pd.DatetimeIndex, category: str = PUBLIC) -> np.ndarray:
    """1.0 on the place's holidays of ``category`` (``calendars.py``; an unknown place: none)."""
    if len(dates) == 0:
        return np.zeros(0)
    days = _days(place, int(dates.min().year), int(dates.max().year), category)
    return np.isin(dates.to_numpy().astype("datetime64[D]"), days).astype("float64")


@lru_cache(maxsize=256)
def _days(place: str, first_year: int, last_year: int, category: str) -> np.ndarray:
    found = holiday_days(place, first_year, last_year, category)
    return np.array([day for day, _ in found], dtype="datetime64[D]")


def closure_runs(series: pd.Series, min_days: int = 3) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Known closures: runs of at least ``min_days`` unknown days inside the history.

    They stay unknown (NaN): never sales of zero, never scored, never training targets.
    """
    missing = series.isna().to_numpy()
    runs: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    start = None
    for position, gap in enumerate(missing):
        if gap and start is None:
            start = position
        elif not gap and start is not None:
            if position - start >= min_days:
                runs.append((series.index[start], series.index[position - 1]))
            start = None
    return runs
