"""What the boosted models know at a forecast origin (``direct_features.origin_state``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flux_core.training.candidates import LOCAL_ORIGIN_STEP
from flux_core.training.direct_features import (
    ORIGIN_STEP,
    origin_state,
    training_examples,
)
from flux_core.training.series import iso_weekdays


def _series(days: int, seed: int, start: str = "2024-03-06") -> pd.Series:
    rng = np.random.default_rng(seed)
    values = rng.gamma(3.0, 40.0, days)
    values[rng.random(days) < 0.2] = np.nan  # unknown days
    return pd.Series(values, index=pd.date_range(start, periods=days, freq="D"))


@pytest.mark.parametrize(("days", "seed", "start"), [(400, 1, "2024-03-06"), (95, 2, "2023-01-01")])
def test_weekday_statistics_are_those_of_the_weekdays_latest_days(
    days: int, seed: int, start: str
) -> None:
    """Each (day, weekday) reads the weekday's days at or before that day: the last observed one,
    and the mean, median and log spread of its last 4/12/52 days (unknown days left out)."""
    series = _series(days, seed, start)
    state = origin_state(series, "US", 28)
    weekday = np.asarray(series.index.day_of_week)
    values = series.to_numpy()
    checked = 0
    for day in range(0, days, 3):
        for w in range(7):
            mine = np.flatnonzero(weekday[: day + 1] == w)
            if len(mine) == 0:
                assert np.isnan(state.weekday_mean_12[day, w])
                continue
            last12, last52 = values[mine[-12:]], values[mine[-52:]]
            known = values[mine][~np.isnan(values[mine])]
            expected = {
                "weekday_last": known[-1] if len(known) else np.nan,
                "weekday_mean_4": np.nanmean(values[mine[-4:]])
                if np.isfinite(values[mine[-4:]]).any()
                else np.nan,
                "weekday_mean_12": np.nanmean(last12) if np.isfinite(last12).any() else np.nan,
                "weekday_median_12": np.nanmedian(last12) if np.isfinite(last12).any() else np.nan,
                "weekday_median_52": np.nanmedian(last52) if np.isfinite(last52).any() else np.nan,
                "weekday_log_mean_12": np.nanmean(np.log1p(last12))
                if np.isfinite(last12).any()
                else np.nan,
                "weekday_log_std_12": np.nanstd(np.log1p(last12), ddof=1)
                if np.isfinite(last12).sum() >= 2
                else np.nan,
            }
            for name, value in expected.items():
                got = getattr(state, name)[day, w]
                assert (np.isnan(value) and np.isnan(got)) or got == pytest.approx(value), (
                    name,
                    day,
                    w,
                )
                checked += 1
    assert checked > 1000


def test_a_day_reads_nothing_after_it() -> None:
    """Rewriting the days after an origin changes none of the origin's features."""
    series = _series(300, 3)
    origin = 200
    changed = series.copy()
    changed.iloc[origin + 1 :] = changed.iloc[origin + 1 :] * 7 + 1
    before, after = origin_state(series, "US", 28), origin_state(changed, "US", 28)
    for name in before.__dataclass_fields__:
        a, b = getattr(before, name), getattr(after, name)
        if isinstance(a, np.ndarray) and name not in ("values", "holidays", "events"):
            np.testing.assert_array_equal(a[: origin + 1], b[: origin + 1], err_msg=name)
    assert not np.array_equal(before.weekday_mean_12[-1], after.weekday_mean_12[-1])


@pytest.mark.parametrize("step", [ORIGIN_STEP, LOCAL_ORIGIN_STEP])
def test_training_examples_stop_at_the_cutoff_and_start_on_every_weekday(step: int) -> None:
    series = _series(400, 4)
    state = origin_state(series, "US", 28)
    cutoff = 330
    rows = training_examples(state, 28, cutoff, frozenset({7}), step)
    origins = np.unique(rows.origin)
    assert (np.diff(origins) % step == 0).all()  # one every ``step`` days
    assert rows.day.max() <= cutoff and origins.max() < cutoff
    assert set(iso_weekdays(state.start + pd.to_timedelta(origins, unit="D"))) == set(range(1, 8))
    assert 7 not in set(rows.weekday) and np.isfinite(rows.target).all()
