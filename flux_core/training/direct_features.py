"""What is known at a forecast origin, as features of the days after it (direct multi-horizon).

The boosted models (per tenant and global) forecast every day of the horizon straight from the
origin, never from their own predictions: each training example is (origin, target day) with
features read only from days up to the origin, the way the Recruit and M5 winners built theirs.

Levels are divided by the series' recent mean at the origin (``scale``), so one model can learn
from restaurants of every size; ``log_scale`` tells it the size. The target is on the log scale
(``log1p(value) - log1p(scale)``, see ``to_level``): demand errors are multiplicative, and a
squared error there aims at the median, which is what WAPE and RMSLE reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from flux_core.calendars import SCHOOL
from flux_core.training.drivers import BookingIndex, Drivers
from flux_core.training.series import holiday_flags

ORIGIN_STEP = 5  # coprime with 7: training origins fall on every weekday
LOOKBACK_DAYS = 730  # the oldest training origin, and the cap of ``history_days``
MIN_ORIGIN_OBSERVED = 14  # observed days before an origin can serve as one

FEATURES = (
    "horizon",
    "weekday",
    "day_of_month",
    "month",
    "day_of_year",
    "is_holiday",
    "holiday_before",
    "holiday_after",
    "is_school_holiday",
    "log_scale",
    "mean_7",
    "mean_91",
    "last_same_weekday",
    "mean_same_weekday_4",
    "mean_same_weekday_12",
    "median_same_weekday_12",
    "median_same_weekday_52",
    "log_mean_same_weekday_12",
    "log_std_same_weekday_12",
    "mean_364",
    "same_day_last_year",
    "observed_share_28",
    "history_days",
    # Drivers (drivers.py): covers booked for the day by the origin, whether the restaurant
    # takes bookings at all by then, and a day it flagged as an event or a promotion.
    "booked_share",
    "takes_bookings",
    "is_event",
)


@dataclass(frozen=True)
class OriginState:
    """Per-day running statistics of one series; row ``i`` only uses days ``<= i``."""

    start: pd.Timestamp
    values: np.ndarray
    scale: np.ndarray  # recent mean at each day (NaN where none can be had)
    mean_7: np.ndarray
    mean_91: np.ndarray
    mean_364: np.ndarray
    observed_share_28: np.ndarray
    history_days: np.ndarray
    observed_before: np.ndarray  # observed days up to and including each day
    weekday_last: np.ndarray  # (days, 7)
    weekday_mean_4: np.ndarray
    weekday_mean_12: np.ndarray
    weekday_median_12: np.ndarray
    weekday_median_52: np.ndarray
    weekday_log_mean_12: np.ndarray  # on log1p(value): the level RMSLE aims at
    weekday_log_std_12: np.ndarray  # how erratic the weekday is
    holidays: np.ndarray  # flags for every day of the series and ``horizon + 1`` beyond
    school_holidays: np.ndarray  # flags, as ``holidays`` (none where the package has none)
    bookings: BookingIndex
    events: np.ndarray  # flags, as ``holidays``

    @property
    def days(self) -> int:
        return len(self.values)

    def position(self, day: pd.Timestamp) -> int:
        return int((pd.Timestamp(day) - self.start).days)


@dataclass(frozen=True)
class Examples:
    """(origin, target) rows: features, the normalised target (NaN when unknown), bookkeeping."""

    features: np.ndarray  # float32 (rows, len(FEATURES))
    target: np.ndarray  # log1p(value) - log1p(scale); NaN for unknown or future days
    scale: np.ndarray
    origin: np.ndarray  # day positions in the series
    day: np.ndarray
    weekday: np.ndarray  # ISO 1..7 of the target day

    def __len__(self) -> int:
        return len(self.target)

    def select(self, mask: np.ndarray) -> Examples:
        return Examples(
            self.features[mask],
            self.target[mask],
            self.scale[mask],
            self.origin[mask],
            self.day[mask],
            self.weekday[mask],
        )


def to_level(predicted: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """A model's output (on the target's log scale) back to demand."""
    return np.clip(np.expm1(np.asarray(predicted, dtype="float64") + np.log1p(scale)), 0.0, None)


def _by_weekday(values: np.ndarray, first_weekday: int) -> pd.DataFrame:
    """The days as a table of weeks: row ``r``, column ``c`` is day ``7r + c``, so each column
    holds one weekday (``(first_weekday + c) % 7``); days past the end are NaN."""
    weeks = -(-len(values) // 7)
    grid = np.full(weeks * 7, np.nan)
    grid[: len(values)] = values
    return pd.DataFrame(grid.reshape(weeks, 7))


def _spread(table: np.ndarray, days: int, first_weekday: int) -> np.ndarray:
    """A statistic per (week, column) read at every day and weekday (Monday = 0) as of that
    weekday's latest day at or before it: (days, 7)."""
    day = np.arange(days)
    column = (np.arange(7) - first_weekday) % 7  # the column holding each weekday
    row = (day // 7)[:, None] - (column[None, :] > (day % 7)[:, None])
    out = table[np.maximum(row, 0), column[None, :]]
    out[row < 0] = np.nan
    return out


def origin_state(
    series: pd.Series, place: str, horizon: int, drivers: Drivers | None = None
) -> OriginState:
    """``place``: the ISO 3166 code of the series' holiday calendar (``calendars.py``)."""
    drivers = drivers or Drivers()
    values = series.to_numpy(dtype="float64")
    days = len(values)
    start = pd.Timestamp(series.index[0])
    observed = ~np.isnan(values)
    mean = {w: series.rolling(w, min_periods=1).mean().to_numpy() for w in (7, 28, 91, 364)}
    expanding = series.expanding(min_periods=1).mean().to_numpy()
    scale = mean[28].copy()
    for fallback in (mean[91], expanding):
        bad = ~np.isfinite(scale) | (scale <= 0)
        scale[bad] = fallback[bad]
    scale[~np.isfinite(scale) | (scale <= 0)] = np.nan
    # Per-weekday statistics: the series as a table of weeks, each column one weekday, rolled
    # down the columns (one pandas call per statistic for all seven weekdays).
    first_weekday = int(start.day_of_week)
    weeks = _by_weekday(values, first_weekday)
    logged = np.log1p(weeks)
    tables = {
        "last": weeks.ffill(),
        "mean4": weeks.rolling(4, min_periods=1).mean(),
        "mean12": weeks.rolling(12, min_periods=1).mean(),
        "med12": weeks.rolling(12, min_periods=1).median(),
        "med52": weeks.rolling(52, min_periods=1).median(),
        "logmean12": logged.rolling(12, min_periods=1).mean(),
        "logstd12": logged.rolling(12, min_periods=2).std(),
    }
    stats = {
        name: _spread(table.to_numpy(dtype="float64"), days, first_weekday)
        for name, table in tables.items()
    }
    first = int(np.argmax(observed)) if observed.any() else days
    dates = pd.date_range(start, periods=days + horizon + 2, freq="D")
    return OriginState(
        start=start,
        values=values,
        scale=scale,
        mean_7=mean[7],
        mean_91=mean[91],
        mean_364=mean[364],
        observed_share_28=pd.Series(observed.astype("float64"))
        .rolling(28, min_periods=1)
        .mean()
        .to_numpy(),
        history_days=np.clip(np.arange(days) - first + 1, 0, LOOKBACK_DAYS).astype("float64"),
        observed_before=np.cumsum(observed),
        weekday_last=stats["last"],
        weekday_mean_4=stats["mean4"],
        weekday_mean_12=stats["mean12"],
        weekday_median_12=stats["med12"],
        weekday_median_52=stats["med52"],
        weekday_log_mean_12=stats["logmean12"],
        weekday_log_std_12=stats["logstd12"],
        holidays=holiday_flags(place, dates),
        school_holidays=holiday_flags(place, dates, SCHOOL),
        bookings=drivers.booking_index(start),
        events=drivers.event_flags(start, len(dates)),
    )


def examples(state: OriginState, origins: np.ndarray, horizon: int) -> Examples:
    """The ``horizon`` days after each origin (positions), as feature rows."""
    origins = np.asarray(origins, dtype="int64")
    steps = np.tile(np.arange(1, horizon + 1), len(origins))
    origin = np.repeat(origins, horizon)
    day = origin + steps
    dates = state.start + pd.to_timedelta(day, unit="D")
    weekday = np.asarray(dates.day_of_week)
    scale = state.scale[origin]
    known = day < state.days
    target = np.full(len(day), np.nan)
    target[known] = np.log1p(state.values[day[known]]) - np.log1p(scale[known])
    year_ago = day - 364
    last_year = np.full(len(day), np.nan)
    reach = (year_ago >= 0) & (year_ago <= origin)
    last_year[reach] = state.values[year_ago[reach]]
    holidays = state.holidays
    columns = {
        "horizon": steps.astype("float64"),
        "weekday": weekday.astype("float64"),
        "day_of_month": np.asarray(dates.day, dtype="float64"),
        "month": np.asarray(dates.month, dtype="float64"),
        "day_of_year": np.asarray(dates.day_of_year, dtype="float64"),
        "is_holiday": holidays[day],
        "holiday_before": holidays[day + 1],
        "holiday_after": holidays[day - 1],
        "is_school_holiday": state.school_holidays[day],
        "log_scale": np.log1p(scale),
        "mean_7": state.mean_7[origin] / scale,
        "mean_91": state.mean_91[origin] / scale,
        "last_same_weekday": state.weekday_last[origin, weekday] / scale,
        "mean_same_weekday_4": state.weekday_mean_4[origin, weekday] / scale,
        "mean_same_weekday_12": state.weekday_mean_12[origin, weekday] / scale,
        "median_same_weekday_12": state.weekday_median_12[origin, weekday] / scale,
        "median_same_weekday_52": state.weekday_median_52[origin, weekday] / scale,
        "log_mean_same_weekday_12": state.weekday_log_mean_12[origin, weekday] - np.log1p(scale),
        "log_std_same_weekday_12": state.weekday_log_std_12[origin, weekday],
        "mean_364": state.mean_364[origin] / scale,
        "same_day_last_year": last_year / scale,
        "observed_share_28": state.observed_share_28[origin],
        "history_days": state.history_days[origin],
        "booked_share": state.bookings.booked_by(origin, day) / scale,
        "takes_bookings": state.bookings.known_at(origin),
        "is_event": state.events[day],
    }
    matrix = np.column_stack([columns[name] for name in FEATURES]).astype("float32")
    return Examples(matrix, target, scale, origin, day, weekday + 1)


def training_origins(state: OriginState, before: int, step: int = ORIGIN_STEP) -> np.ndarray:
    """Every ``step``-th day counted back from ``before`` (exclusive), with enough history."""
    candidates = np.arange(before - step, max(before - LOOKBACK_DAYS, 0) - 1, -step)
    candidates = candidates[candidates >= 0]
    usable = (state.observed_before[candidates] >= MIN_ORIGIN_OBSERVED) & np.isfinite(
        state.scale[candidates]
    )
    return np.sort(candidates[usable])


def training_examples(
    state: OriginState, horizon: int, cutoff: int, closed: frozenset[int], step: int = ORIGIN_STEP
) -> Examples:
    """Examples whose origin and target are both at or before ``cutoff`` (a position), on known
    open days: what a model fitted at ``cutoff`` may learn from (an origin every ``step`` days)."""
    rows = examples(state, training_origins(state, cutoff + 1, step), horizon)
    keep = (rows.day <= cutoff) & np.isfinite(rows.target) & ~np.isin(rows.weekday, list(closed))
    return rows.select(keep)
