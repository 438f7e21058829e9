"""The training core on synthetic series: backtest, champion rule, closed days, missing days."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from test_training_synthetic import synthetic_series

from flux_core.training.backtest import (
    PRIOR_DAYS,
    CandidateScore,
    InsufficientHistory,
    backtest,
    batch_prior,
    choose_champion,
    relative_error,
)
from flux_core.training.batch import train_demand_model
from flux_core.training.candidates import (
    BASELINE,
    ENSEMBLE,
    ProphetForecaster,
    SeasonalNaive,
    make_forecaster,
)
from flux_core.training.model import DemandModel
from flux_core.training.series import closed_weekdays, daily_series
from flux_core.training.train import TrainingConfig

HORIZON, WINDOWS = 14, 3


@pytest.fixture(scope="module")
def trained() -> DemandModel:
    history = synthetic_series(120, seed=3, missing=(40, 41, 100))
    return train_demand_model(
        history,
        tenant_id="t",
        metric="sales",
        country="US",
        config=TrainingConfig(horizon=HORIZON, windows=WINDOWS, seed=7),
    )


def test_weekly_series_champion_beats_the_baseline(trained: DemandModel) -> None:
    candidates = trained.backtest["candidates"]
    assert set(candidates) == {
        "seasonal_naive",
        "weekday_median",
        "prophet",
        "xgboost",
        "global_xgboost",
        "ensemble",
    }
    assert trained.kind != BASELINE
    assert candidates[trained.kind]["wape"] < candidates[BASELINE]["wape"]
    scores = {kind: CandidateScore(**values) for kind, values in candidates.items()}
    assert trained.kind == choose_champion(scores)
    assert trained.backtest["ranking"][0] in candidates
    assert len(trained.backtest["windows"]) == WINDOWS


def test_closed_weekday_is_forecast_as_zero(trained: DemandModel) -> None:
    assert trained.closed == frozenset({7})
    forecast = trained.predict(trained.future_dates(HORIZON))
    sundays = pd.to_datetime(forecast["date"]).dt.day_of_week == 6
    assert sundays.sum() == 2
    assert (forecast.loc[sundays, ["p10", "p50", "p90"]] == 0).all().all()
    assert (forecast.loc[~sundays, "p50"] > 0).all()


def test_quantiles_are_ordered_and_non_negative(trained: DemandModel) -> None:
    forecast = trained.predict(trained.future_dates(HORIZON))
    assert len(forecast) == HORIZON
    assert (forecast["p10"] >= 0).all()
    assert (forecast["p10"] <= forecast["p50"]).all()
    assert (forecast["p50"] <= forecast["p90"]).all()
    assert (forecast["p90"] > forecast["p10"]).any()


def test_missing_days_are_excluded_from_metrics_not_zero() -> None:
    history = synthetic_series(90, seed=1, closed_weekday=None)
    series = daily_series(history["date"], history["value"])
    holes = series.copy()
    holes.iloc[[70, 71, 80, 85]] = np.nan  # inside the held-back windows
    factories = {BASELINE: SeasonalNaive}
    full, windows = backtest(series, factories, HORIZON, 2)
    with_holes, _ = backtest(holes, factories, HORIZON, 2)
    held_back = sum(len(w.dates) for w in windows)
    assert full[BASELINE].days == held_back
    assert with_holes[BASELINE].days == held_back - 4
    # Were NaN read as zero sales, the error on those days would be the whole forecast.
    assert with_holes[BASELINE].wape < 2 * full[BASELINE].wape


def test_seasonal_naive_skips_unknown_days() -> None:
    history = synthetic_series(35, seed=2, closed_weekday=None)
    series = daily_series(history["date"], history["value"])
    last_monday = series.index[series.index.day_of_week == 0][-1]
    series.loc[last_monday] = np.nan
    model = SeasonalNaive().fit(series, frozenset())
    next_monday = pd.DatetimeIndex([last_monday + pd.Timedelta(days=7)])
    assert model.predict(next_monday)[0] == series.loc[last_monday - pd.Timedelta(days=7)]


def test_closed_weekdays_need_eight_weeks_without_sales() -> None:
    history = synthetic_series(120, seed=4, closed_weekday=2)
    series = daily_series(history["date"], history["value"])
    assert closed_weekdays(series) == frozenset({2})
    tuesdays = series.index[series.index.day_of_week == 1]
    series.loc[tuesdays[-3]] = 50.0  # one Tuesday with sales in the last 8 weeks: open
    assert closed_weekdays(series) == frozenset()


def test_a_few_days_of_history_or_a_closure_do_not_close_weekdays() -> None:
    # Four days seen, over six: the two days not seen are unknown, not closed.
    history = synthetic_series(6, seed=4, closed_weekday=None).drop(index=[1, 3])
    assert closed_weekdays(daily_series(history["date"], history["value"])) == frozenset()
    # Back for five days from two months of works: the weeks without a sale say nothing.
    history = synthetic_series(120, seed=4, closed_weekday=None)
    history.loc[60:114, "value"] = np.nan
    series = daily_series(history["date"], history["value"])
    assert closed_weekdays(series) == frozenset()
    # An export that reports two or three days a week, never a Friday: Friday is not known shut.
    history = synthetic_series(120, seed=4, closed_weekday=None)
    dates = pd.to_datetime(history["date"])
    history.loc[(dates.dt.day_of_week == 4) | (dates.dt.day_of_week.isin([0, 2, 6])), "value"] = (
        np.nan
    )
    assert closed_weekdays(daily_series(history["date"], history["value"])) == frozenset()
    # Shut on Wednesdays in four of the weeks it traded: closed.
    history = synthetic_series(120, seed=4, closed_weekday=3)
    history.loc[80:104, "value"] = np.nan
    assert closed_weekdays(daily_series(history["date"], history["value"])) == frozenset({3})


def test_prophet_point_forecast_is_prophets_own_yhat() -> None:
    history = synthetic_series(140, seed=6, closed_weekday=None)  # the next 14 days: Memorial Day
    series = daily_series(history["date"], history["value"])
    model = ProphetForecaster("US", 1).fit(series, frozenset())
    future = pd.date_range(series.index.max() + pd.Timedelta(days=1), periods=HORIZON)
    expected = model.model.predict(pd.DataFrame({"ds": future}))["yhat"].to_numpy()
    np.testing.assert_allclose(model.predict(future), expected, rtol=1e-9)
    # Two years (yearly seasonality too), forecast across Christmas and New Year, and again after
    # a round trip through pickle (as a registered model is read back).
    long = synthetic_series(2 * 365 + 340, seed=7, closed_weekday=None)
    long_series = daily_series(long["date"], long["value"])
    yearly = ProphetForecaster("US", 1).fit(long_series, frozenset())
    winter = pd.date_range(long_series.index.max() + pd.Timedelta(days=1), periods=45)
    assert winter[0].month == 12 and yearly.model.seasonalities.keys() == {"weekly", "yearly"}
    prophet_yhat = yearly.model.predict(pd.DataFrame({"ds": winter}))["yhat"].to_numpy()
    np.testing.assert_allclose(yearly.predict(winter), prophet_yhat, rtol=1e-9)
    restored = pickle.loads(pickle.dumps(yearly))  # noqa: S301 - our own object, in memory
    np.testing.assert_allclose(restored.predict(winter), prophet_yhat)
    # Warm-started from a fit on a shorter history, it lands on the same forecast.
    earlier = ProphetForecaster("US", 1).fit(series.iloc[:-14], frozenset())
    warm = make_forecaster("prophet", "US", 1, init=earlier.warm_start()).fit(series, frozenset())
    np.testing.assert_allclose(warm.predict(future), expected, rtol=0.05)


def test_quick_prophet_prepares_the_same_inputs_as_prophet() -> None:
    """Its faster holiday features and cached component matrix change nothing Stan sees, for a
    second series of the country too (the cache's hit)."""
    from prophet import Prophet

    from flux_core.training.candidates import _quick_prophet, prophet_holidays

    holidays = prophet_holidays("US", 2023, 2027)
    for seed, days in ((8, 500), (9, 420)):
        history = synthetic_series(days, seed=seed, missing=(30, 31))
        frame = pd.DataFrame({"ds": history["date"], "y": history["value"]}).dropna()
        prepared = []
        for cls in (Prophet, _quick_prophet()):
            model = cls(holidays=holidays, yearly_seasonality=True, daily_seasonality=False)
            prepared.append((model, model.preprocess(frame)))
        (plain, expected), (quick, got) = prepared
        pd.testing.assert_frame_equal(got.X, expected.X)
        assert got.sigmas == expected.sigmas
        assert quick.component_modes == plain.component_modes
        pd.testing.assert_frame_equal(quick.train_component_cols, plain.train_component_cols)
        pd.testing.assert_series_equal(quick.train_holiday_names, plain.train_holiday_names)
        assert got.X.filter(like="Independence Day").to_numpy().sum() > 0


def _score(kind: str, wape: float) -> CandidateScore:
    return CandidateScore(kind, wape, 1.0, 0.3, 0.0, 0.8, 28, -0.1, 0.1)


def _scored(kind: str, wape: float, rmsle: float) -> CandidateScore:
    return CandidateScore(kind, wape, 1.0, rmsle, 0.0, 0.8, 28, -0.1, 0.1)


def _scored_on(kind: str, wape: float, rmsle: float, days: int) -> CandidateScore:
    return CandidateScore(kind, wape, 1.0, rmsle, 0.0, 0.8, days, -0.1, 0.1)


def test_a_series_keeps_its_own_winner_only_on_strong_evidence() -> None:
    # Across the batch the ensemble usually wins; this series' prophet did better on its windows.
    batch = [
        {
            BASELINE: _scored(BASELINE, 0.40, 0.60),
            ENSEMBLE: _scored(ENSEMBLE, 0.28, 0.45),
            "prophet": _scored("prophet", 0.34, 0.54),
        }
        for _ in range(9)
    ]
    prior = batch_prior(batch)
    assert prior[BASELINE] == pytest.approx(2.0)
    assert prior[ENSEMBLE] == pytest.approx(0.28 / 0.40 + 0.45 / 0.60)

    def series(days: int) -> dict[str, CandidateScore]:
        return {
            BASELINE: _scored_on(BASELINE, 0.40, 0.60, days),
            ENSEMBLE: _scored_on(ENSEMBLE, 0.30, 0.50, days),
            "prophet": _scored_on("prophet", 0.26, 0.42, days),
        }

    # Alone, the series' own winner; with the batch behind it, thin evidence does not carry.
    assert choose_champion(series(60)) == "prophet"
    assert choose_champion(series(60), prior) == ENSEMBLE
    assert choose_champion(series(60), prior, prior_days=0) == "prophet"
    # A long record of doing better does.
    assert choose_champion(series(5000), prior) == "prophet"
    # The shrunk error is the days-weighted mean of the series' own and the batch's.
    own = {k: relative_error(s, series(60)[BASELINE]) for k, s in series(60).items()}
    shrunk = {k: (60 * own[k] + PRIOR_DAYS * prior[k]) / (60 + PRIOR_DAYS) for k in own}
    assert min(shrunk, key=lambda k: shrunk[k]) == choose_champion(series(60), prior) == ENSEMBLE


def test_a_candidate_must_beat_the_baseline_whatever_the_batch_says() -> None:
    prior = {BASELINE: 2.0, ENSEMBLE: 1.0, "prophet": 1.9}
    scores = {BASELINE: _scored(BASELINE, 0.30, 0.50), ENSEMBLE: _scored(ENSEMBLE, 0.31, 0.45)}
    assert choose_champion(scores, prior) == BASELINE
    scores["prophet"] = _scored("prophet", 0.29, 0.49)
    assert choose_champion(scores, prior) == "prophet"


def test_a_model_that_does_not_beat_the_baseline_is_not_champion() -> None:
    assert (
        choose_champion({BASELINE: _score(BASELINE, 0.2), "xgboost": _score("xgboost", 0.2)})
        == BASELINE
    )
    assert (
        choose_champion({BASELINE: _score(BASELINE, 0.2), "xgboost": _score("xgboost", 0.3)})
        == BASELINE
    )
    scores = {
        BASELINE: _score(BASELINE, 0.2),
        "xgboost": _score("xgboost", 0.15),
        "prophet": _score("prophet", 0.1),
    }
    assert choose_champion(scores) == "prophet"


def test_short_or_negative_history_is_refused() -> None:
    with pytest.raises(InsufficientHistory):
        backtest(
            daily_series(*synthetic_series(20).T.to_numpy()),
            {BASELINE: SeasonalNaive},
            HORIZON,
            WINDOWS,
        )
    bad = synthetic_series(60)
    bad.loc[5, "value"] = -3.0
    with pytest.raises(ValueError, match="negative"):
        daily_series(bad["date"], bad["value"])


def test_xgboost_predicts_recursively_beyond_its_history() -> None:
    history = synthetic_series(120, seed=5)
    series = daily_series(history["date"], history["value"])
    model = make_forecaster("xgboost", "US", 1).fit(series, frozenset({7}))
    future = pd.date_range(series.index.max() + pd.Timedelta(days=1), periods=HORIZON)
    first, again = model.predict(future), model.predict(future)
    assert np.isfinite(first).all() and (first >= 0).all()
    np.testing.assert_allclose(first, again)  # seeded and deterministic
