"""Synthetic daily series in the shape of ``analytics.features_daily``, for the training tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEEKLY = np.array([0.9, 1.0, 1.1, 1.3, 1.8, 2.1, 0.0])  # Monday..Sunday; closed on Sundays


def synthetic_series(
    days: int = 120,
    *,
    seed: int = 0,
    start: str = "2024-01-01",
    level: float = 100.0,
    noise: float = 0.12,
    closed_weekday: int | None = 7,
    missing: tuple[int, ...] = (),
) -> pd.DataFrame:
    """date, value: weekly seasonality, a slight trend, multiplicative noise, NaN on ``missing``."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    weekly = WEEKLY.copy()
    if closed_weekday != 7:
        weekly[6] = 1.5  # open on Sundays
    trend = 1 + 0.001 * np.arange(days)
    values = level * weekly[dates.day_of_week] * trend * (1 + rng.normal(0, noise, days))
    values = np.clip(values, 0, None)
    if closed_weekday is not None:
        values[dates.day_of_week + 1 == closed_weekday] = 0.0
    values[list(missing)] = np.nan
    return pd.DataFrame({"date": dates.date, "value": values})


def features_frame(tenant_id: str, metric: str, history: pd.DataFrame, country: str = "US"):
    """The columns the training job reads from ``features_daily``."""
    frame = history.copy()
    frame.insert(0, "metric", metric)
    frame.insert(0, "tenant_id", tenant_id)
    frame["country"] = country
    frame["is_observed"] = frame["value"].notna()
    return frame


def test_synthetic_series_has_its_closed_day_and_holes() -> None:
    frame = synthetic_series(28, closed_weekday=3, missing=(4,))
    weekday = pd.to_datetime(frame["date"]).dt.day_of_week + 1
    assert (frame.loc[weekday == 3, "value"] == 0).all()
    assert frame["value"].isna().sum() == 1
    assert (frame.loc[(weekday != 3) & frame["value"].notna(), "value"] > 0).all()
