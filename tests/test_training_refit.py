"""Refit nightly, reselect when it matters: the plan each series gets, and a refit that keeps its
selection's kind and intervals while learning the new days."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_training_synthetic import synthetic_series

from flux_core.training.batch import SeriesFailure, train_series
from flux_core.training.candidates import BASELINE, ENSEMBLE, GLOBAL, WEEKDAY_MEDIAN
from flux_core.training.model import DemandModel
from flux_core.training.selection import (
    RESELECT_EVERY_DAYS,
    Champion,
    LiveAccuracy,
    plan_series,
    refit_plan,
    reselect_weekday,
)
from flux_core.training.series import daily_series
from flux_core.training.train import SeriesJob, TrainingConfig

CONFIG = TrainingConfig(
    horizon=14,
    windows=2,
    seed=5,
    candidates=(BASELINE, WEEKDAY_MEDIAN, "xgboost", GLOBAL, ENSEMBLE),
    workers=2,
)
TENANTS = [f"00000000-0000-0000-0000-00000000000{i}" for i in range(4)]


def _frames(days: int) -> list[pd.DataFrame]:
    return [
        synthetic_series(days, seed=1),
        synthetic_series(days, seed=2, level=40, closed_weekday=None),
        synthetic_series(days, seed=3, level=300),
    ]


def _jobs(days: int) -> list[SeriesJob]:
    return [SeriesJob(t, "sales", "US", f) for t, f in zip(TENANTS, _frames(days), strict=False)]


def _champion(model: DemandModel, version: int = 3, trained: str = "2024-06-01") -> Champion:
    return Champion(version, model.kind, model.backtest, dt.datetime.fromisoformat(trained))


@pytest.fixture(scope="module")
def selected() -> list[DemandModel]:
    models = train_series(_jobs(150), CONFIG)
    assert all(isinstance(m, DemandModel) for m in models)
    return [m for m in models if isinstance(m, DemandModel)]


def _series(frame: pd.DataFrame) -> pd.Series:
    return daily_series(frame["date"], frame["value"])


def test_a_series_with_one_new_day_is_refitted_and_one_without_is_kept(selected) -> None:
    today = dt.date(2024, 6, 2)
    [longer, *_] = _frames(151)
    assert plan_series(TENANTS[0], _series(longer), None, None, today).reason == "no champion"
    champion = _champion(selected[0])
    same = plan_series(TENANTS[0], _series(_frames(150)[0]), champion, None, today)
    assert (same.mode, same.reason) == ("keep", "no new day")
    grown = plan_series(TENANTS[0], _series(longer), champion, None, today)
    if today.toordinal() % RESELECT_EVERY_DAYS == reselect_weekday(TENANTS[0]):
        today += dt.timedelta(days=1)
        grown = plan_series(TENANTS[0], _series(longer), champion, None, today)
    assert grown.mode == "refit" and grown.kind == selected[0].kind
    assert grown.selected_version == 3
    assert (grown.log_q10, grown.log_q90) == pytest.approx(
        (selected[0].log_q10, selected[0].log_q90)
    )


def test_a_corrected_day_reopens_the_tournament(selected) -> None:
    frame = _frames(151)[0]
    frame.loc[100, "value"] = frame.loc[100, "value"] * 1.5
    plan = plan_series(
        TENANTS[0], _series(frame), _champion(selected[0]), None, dt.date(2024, 6, 2)
    )
    assert plan.mode == "select" and "changed" in plan.reason


def test_live_accuracy_worse_than_promised_reopens_the_tournament(selected) -> None:
    champion = _champion(selected[0])
    promised = champion.backtest_wape
    assert promised is not None
    series = _series(_frames(151)[0])
    today = dt.date(2024, 6, 3)
    if today.toordinal() % RESELECT_EVERY_DAYS == reselect_weekday(TENANTS[0]):
        today += dt.timedelta(days=1)
    fine = plan_series(TENANTS[0], series, champion, LiveAccuracy(28, promised * 1.1), today)
    assert fine.mode == "refit"
    few = plan_series(TENANTS[0], series, champion, LiveAccuracy(5, promised * 3), today)
    assert few.mode == "refit"  # five days prove nothing
    worse = plan_series(TENANTS[0], series, champion, LiveAccuracy(28, promised * 1.5), today)
    assert worse.mode == "select" and "live WAPE" in worse.reason


def test_about_a_seventh_of_the_tenants_reselect_each_night(selected) -> None:
    """Three weeks after one first night on which all were selected: each night about a
    seventh reselect, and none waits more than a week."""
    tenants = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(700)]
    first = dt.datetime(2024, 6, 1, 2, tzinfo=dt.UTC)
    template = selected[0]
    series = _series(_frames(151)[0])
    last_selected = dict.fromkeys(tenants, first)
    for night in range(1, 22):
        tonight = first + dt.timedelta(days=night)
        chosen = [
            tenant
            for tenant in tenants
            if plan_series(
                tenant,
                series,
                Champion(1, template.kind, template.backtest, last_selected[tenant]),
                None,
                tonight.date(),
            ).mode
            == "select"
        ]
        assert 60 <= len(chosen) <= 140, (night, len(chosen))
        last_selected |= dict.fromkeys(chosen, tonight)
        assert all((tonight - at).days < RESELECT_EVERY_DAYS for at in last_selected.values())


def _refit_plans(jobs: list[SeriesJob], models: list[DemandModel]) -> dict:
    return {
        (job.tenant_id, job.metric): refit_plan(
            model.kind, model.backtest, 7, "2024-06-01T02:00:00+00:00"
        )
        for job, model in zip(jobs, models, strict=True)
    }


def test_a_refit_keeps_the_selection_and_learns_the_new_days(selected) -> None:
    jobs = _jobs(164)  # two weeks more
    refitted = train_series(jobs, CONFIG, plans=_refit_plans(jobs, selected))
    reselected = train_series(jobs, CONFIG)
    for old, new, again in zip(selected, refitted, reselected, strict=True):
        assert isinstance(new, DemandModel) and isinstance(again, DemandModel)
        assert new.kind == old.kind and (new.log_q10, new.log_q90) == (old.log_q10, old.log_q90)
        assert new.last_observed_date == old.last_observed_date + pd.Timedelta(days=14)
        assert new.backtest["selection"] == {
            "mode": "refit",
            "reason": "new days",
            "selected_version": 7,
            "selected_at": "2024-06-01T02:00:00+00:00",
        }
        assert new.backtest["history"]["through"] == new.last_observed_date.date().isoformat()
        assert new.backtest["windows"] == old.backtest["windows"]  # the selection's backtest
        assert again.backtest["selection"]["mode"] == "select"
        assert again.backtest["windows"] != old.backtest["windows"]
        # The refitted champion forecasts from its new last day.
        forecast = new.predict(new.future_dates(14))
        assert forecast["date"].iloc[0] == (old.last_observed_date + pd.Timedelta(days=15)).date()
        assert (forecast["p50"] > 0).any()


def test_a_refit_whose_series_breaks_fails_alone(selected) -> None:
    jobs = _jobs(151)
    broken = jobs[1].history.assign(value=lambda f: f["value"] - 1e4)
    jobs[1] = SeriesJob(jobs[1].tenant_id, "sales", "US", broken)
    out = train_series(jobs, CONFIG, plans=_refit_plans(jobs, selected))
    assert isinstance(out[1], SeriesFailure) and "negative" in out[1].error
    assert isinstance(out[0], DemandModel) and isinstance(out[2], DemandModel)
