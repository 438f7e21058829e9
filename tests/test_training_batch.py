"""A batch on both cores: the global model as a candidate of every series, failure isolation,
and reproducibility (the same data gives the same forecasts)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_training_synthetic import synthetic_series

from flux_core.training.batch import SeriesFailure, train_series, worker_count
from flux_core.training.candidates import (
    BASELINE,
    ENSEMBLE,
    ENSEMBLE_WEIGHTS,
    GLOBAL,
    WEEKDAY_MEDIAN,
)
from flux_core.training.model import DemandModel, load_demand_model
from flux_core.training.train import SeriesJob, TrainingConfig

CONFIG = TrainingConfig(
    horizon=14,
    windows=2,
    seed=5,
    candidates=(BASELINE, "weekday_median", "xgboost", GLOBAL, ENSEMBLE),
    workers=2,
)


def _jobs() -> list[SeriesJob]:
    shapes = [
        synthetic_series(150, seed=1),
        synthetic_series(150, seed=2, level=40, closed_weekday=None),
        synthetic_series(70, seed=3, level=300, start="2024-03-10"),  # little history
        synthetic_series(60, seed=4).assign(value=lambda f: f["value"] - 1e4),  # bad: fails alone
    ]
    return [SeriesJob(f"t{i}", "sales", "US", frame) for i, frame in enumerate(shapes)]


@pytest.fixture(scope="module")
def twice() -> tuple[list[DemandModel | SeriesFailure], list[DemandModel | SeriesFailure]]:
    jobs = _jobs()
    # Once on two worker processes, once inline: neither the pool nor the order matters.
    return train_series(jobs, CONFIG), train_series(jobs, CONFIG, workers=1)


def test_a_batch_uses_both_cores() -> None:
    assert worker_count(TrainingConfig(workers=0), 50) == min(50, os.cpu_count() or 1)
    assert worker_count(CONFIG, 1) == 1


def test_every_series_gets_the_global_candidate_and_a_bad_one_fails_alone(twice) -> None:
    first, _ = twice
    *models, short = first
    assert isinstance(short, SeriesFailure) and "negative values" in short.error
    for model in models:
        assert isinstance(model, DemandModel)
        candidates = model.backtest["candidates"]
        assert {GLOBAL, ENSEMBLE} <= set(candidates), model.backtest["candidate_errors"]
        assert {c["days"] for c in candidates.values()} == {candidates[BASELINE]["days"]}
        assert candidates[model.kind]["wape"] <= candidates[BASELINE]["wape"]
        accuracy = model.backtest["accuracy"]
        assert 0 <= accuracy["coverage_p10_p90"] <= 1 and np.isfinite(accuracy["rmsle"])


def test_the_same_data_gives_the_same_forecasts(twice) -> None:
    first, second = twice
    for a, b in zip(first, second, strict=True):
        if isinstance(a, SeriesFailure):
            assert isinstance(b, SeriesFailure) and a.error == b.error
            continue
        assert isinstance(b, DemandModel)
        assert (a.kind, a.backtest["candidates"]) == (b.kind, b.backtest["candidates"])
        dates = a.future_dates(14)
        pd.testing.assert_frame_equal(a.predict(dates), b.predict(dates))


def test_a_new_restaurant_gets_its_weekday_medians_without_claimed_accuracy() -> None:
    history = synthetic_series(30, seed=9)
    job = SeriesJob("new", "covers", "US", history)
    [model] = train_series([job], CONFIG, workers=1)
    assert isinstance(model, DemandModel) and model.kind == WEEKDAY_MEDIAN
    # Each weekday's forecast is the median of that weekday so far, not its last value.
    known = history.dropna().assign(wd=lambda f: pd.to_datetime(f["date"]).dt.day_of_week)
    medians = known.groupby("wd")["value"].median()
    ahead = model.predict(model.future_dates(7))
    for day, p50 in zip(pd.to_datetime(ahead["date"]), ahead["p50"], strict=True):
        if day.day_of_week in medians.index:
            assert p50 == pytest.approx(medians[day.day_of_week])
    assert model.backtest["accuracy"] == {} and "no backtest" in model.backtest["note"]
    forecast = model.predict(model.future_dates(14))
    assert (forecast["p10"] < forecast["p50"]).any() and (forecast["p50"] < forecast["p90"]).any()
    sundays = pd.to_datetime(forecast["date"]).dt.day_of_week == 6
    assert (forecast.loc[sundays, "p90"] == 0).all()


def test_the_global_model_can_be_champion_and_forecast(tmp_path: Path) -> None:
    config = TrainingConfig(
        horizon=14, windows=2, seed=5, candidates=(BASELINE, "weekday_median", GLOBAL, ENSEMBLE)
    )
    outcomes = train_series(_jobs()[:3], config, workers=1)
    for model in outcomes:
        assert isinstance(model, DemandModel)
        forecast = model.predict(model.future_dates(14))
        assert (forecast["p50"] >= 0).all() and len(forecast) == 14
        # What MLflow stores: the model, the global booster included, round-trips.
        again = load_demand_model(model.save(tmp_path / model.tenant_id))
        pd.testing.assert_frame_equal(again.predict(model.future_dates(14)), forecast)
    kinds = {m.kind for m in outcomes if isinstance(m, DemandModel)}
    assert kinds & {GLOBAL, ENSEMBLE}, kinds


def test_the_ensemble_is_the_weighted_log_scale_mean_of_its_refitted_members(twice) -> None:
    first, _ = twice
    blends = [m for m in first if isinstance(m, DemandModel) and m.kind == ENSEMBLE]
    assert blends, [getattr(m, "kind", m) for m in first]
    for model in blends:
        members = model.forecaster.members  # type: ignore[attr-defined]
        assert [m.kind for m in members] == ["weekday_median", "xgboost", GLOBAL]
        dates = model.future_dates(14)
        parts = np.stack([m.predict(pd.DatetimeIndex(dates)) for m in members])
        weights = np.array([ENSEMBLE_WEIGHTS[m.kind] for m in members])
        expected = np.expm1((np.log1p(parts) * weights[:, None]).sum(axis=0) / weights.sum())
        open_days = ~np.isin(dates.day_of_week + 1, list(model.closed))
        np.testing.assert_allclose(model.predict(dates)["p50"][open_days], expected[open_days])
        # Refitted on the whole history: the local members forecast from its last day.
        assert members[1].history.index.max() == model.last_observed_date


def test_the_rows_kept_for_the_horizon_forecast_as_the_history_would(twice) -> None:
    """The boosted members keep the feature rows of the days after their last one (no features
    recomputed to forecast): what they forecast from them is what the history itself gives, and
    dates beyond them are forecast from the history."""
    first, _ = twice
    checked = 0
    for model in first:
        if not isinstance(model, DemandModel) or model.kind != ENSEMBLE:
            continue
        for member in model.forecaster.members:  # type: ignore[attr-defined]
            if member.kind == "weekday_median":
                continue
            horizon = pd.date_range(member.history.index.max(), periods=15)[1:]
            beyond = pd.date_range(member.history.index.max(), periods=41)[1:]
            assert member.ahead.forecast(member.model, horizon) is not None
            assert member.ahead.forecast(member.model, beyond) is None
            kept = member.predict(horizon)
            member_ahead, member.ahead = member.ahead, None
            recomputed = member.predict(horizon)
            member.ahead = member_ahead
            np.testing.assert_allclose(kept, recomputed, rtol=1e-6)
            # Forecast from the history, the longer span begins with the same days.
            np.testing.assert_allclose(member.predict(beyond)[:14], kept, rtol=1e-6)
            checked += 1
    assert checked >= 2
