"""The horizon counts from the first day that needs a forecast."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flux_pipelines.defs.forecasts.assets import first_forecast_day


def test_a_restaurant_closed_on_its_last_days_is_forecast_from_after_them() -> None:
    # Its last sale was on the 28th; the export covers through the 30th (closed on the 29th-30th).
    observed, covered = pd.Timestamp("2026-11-28"), pd.Timestamp("2026-11-30")
    assert first_forecast_day(observed, covered, dt.date(2026, 11, 29)) == pd.Timestamp(
        "2026-12-01"
    )


def test_past_days_need_no_forecast() -> None:
    observed = pd.Timestamp("2026-11-28")
    assert first_forecast_day(observed, observed, dt.date(2026, 12, 5)) == pd.Timestamp(
        "2026-12-05"
    )
    assert first_forecast_day(observed, None, dt.date(2026, 11, 1)) == pd.Timestamp("2026-11-29")
