"""Accuracy measured honestly: metrics, closed days and closures, calibrated intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_training_synthetic import synthetic_series

from flux_core.training import metrics
from flux_core.training.backtest import backtest, plan_backtest
from flux_core.training.batch import train_demand_model
from flux_core.training.candidates import BASELINE, SeasonalNaive, WeekdayMedian
from flux_core.training.series import closure_runs, daily_series
from flux_core.training.train import TrainingConfig


def test_metrics_follow_their_definitions() -> None:
    actual = np.array([10.0, 20.0, 30.0])
    predicted = np.array([12.0, 18.0, 33.0])
    assert metrics.wape(actual, predicted) == (2 + 2 + 3) / 60
    assert metrics.bias(actual, predicted) == (2 - 2 + 3) / 60
    expected = np.sqrt(np.mean((np.log1p(predicted) - np.log1p(actual)) ** 2))
    assert np.isclose(metrics.rmsle(actual, predicted), expected)
    assert np.isclose(metrics.mase(actual, predicted, 3.5), (7 / 3) / 3.5)
    assert metrics.coverage(actual, actual - 1, actual + 1) == 1.0
    assert metrics.coverage(actual, actual + 1, actual + 2) == 0.0
    assert np.isnan(metrics.wape(np.zeros(3), predicted))


def test_closed_weekdays_are_left_out_of_every_metric() -> None:
    history = synthetic_series(120, seed=6)  # closed on Sundays (zero sales)
    series = daily_series(history["date"], history["value"])
    scores, windows = backtest(series, {BASELINE: SeasonalNaive}, 14, 3)
    sundays = sum(int((w.dates.day_of_week == 6).sum()) for w in windows)
    assert sundays == 6
    assert scores[BASELINE].days == 3 * 14 - sundays


def test_known_closures_stay_unknown_and_can_be_forecast_shut() -> None:
    history = synthetic_series(150, seed=8, closed_weekday=None)
    history.loc[60:69, "value"] = np.nan  # ten days of works, no rows
    series = daily_series(history.dropna()["date"], history.dropna()["value"])
    [(start, end)] = closure_runs(series)
    assert (end - start).days == 9 and series.loc[start:end].isna().all()
    model = train_demand_model(
        history,
        tenant_id="t",
        metric="sales",
        country="US",
        config=TrainingConfig(horizon=14, windows=2, candidates=(BASELINE, "weekday_median")),
    )
    assert model.backtest["closures"] == [[start.date().isoformat(), end.date().isoformat()]]
    dates = model.future_dates(14)
    forecast = model.predict(dates, closures=[dates[3]])
    assert (forecast.loc[3, ["p10", "p50", "p90"]] == 0).all()
    assert (forecast.drop(index=3)["p50"] > 0).all()


def test_interval_coverage_is_measured_out_of_sample_near_eighty_percent() -> None:
    rng = np.random.default_rng(11)
    dates = pd.date_range("2024-01-01", periods=400, freq="D")
    weekly = np.array([0.8, 0.9, 1.0, 1.1, 1.5, 1.8, 1.2])[dates.day_of_week]
    values = 200 * weekly * rng.lognormal(0.0, 0.2, len(dates))
    series = pd.Series(values, index=dates)
    scores, windows = backtest(series, {"weekday_median": WeekdayMedian}, 28, 8)
    score = scores["weekday_median"]
    assert len(windows) == 8 and score.days == 8 * 28
    assert 0.7 <= score.coverage <= 0.9
    assert score.log_q10 < 0 < score.log_q90


def test_mase_scale_is_the_in_sample_weekly_naive_error() -> None:
    history = synthetic_series(120, seed=2, closed_weekday=None)
    series = daily_series(history["date"], history["value"])
    bt = plan_backtest(series, 14, 2)
    train = series.loc[: bt.windows[0].origin]
    assert np.isclose(bt.scale, (train - train.shift(7)).abs().dropna().mean())
