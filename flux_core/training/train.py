"""Train one tenant-metric, in the two halves a batch needs around its global model.

1. ``backtest_series``: plan the windows, forecast them with every per-series candidate, and
   prepare what the series lends the global model (``global_model.py``).
2. ``finish_series``: with every candidate scored (the global one included), pick the champion and
   refit it on the whole history.

``batch.train_demand_model`` runs both for a single series (the global model then sees that series
only).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from flux_core.calendars import place_code
from flux_core.training.backtest import (
    CHAMPION_RULE,
    INTERVAL_QUANTILES,
    CandidateScore,
    InsufficientHistory,
    SeriesBacktest,
    plan_backtest,
    ranked,
    run_candidates,
)
from flux_core.training.candidates import (
    BASELINE,
    CANDIDATES,
    GLOBAL,
    LOCAL_CANDIDATES,
    WEEKDAY_MEDIAN,
    Forecaster,
    GlobalForecaster,
    RowsAhead,
    WeekdayMedian,
    make_forecaster,
)
from flux_core.training.direct_features import LOOKBACK_DAYS, origin_state
from flux_core.training.drivers import Drivers
from flux_core.training.global_model import GlobalInputs, global_inputs
from flux_core.training.model import DemandModel
from flux_core.training.selection import SeriesPlan, history_digest
from flux_core.training.series import (
    closed_weekdays,
    closure_runs,
    daily_series,
    iso_weekdays,
    last_observed,
)


@dataclass(frozen=True)
class TrainingConfig:
    horizon: int = 28
    windows: int = 3
    seed: int = 42
    candidates: Sequence[str] = CANDIDATES
    workers: int = 0  # processes for a batch; 0: one per core


@dataclass(frozen=True)
class SeriesJob:
    tenant_id: str
    metric: str
    country: str
    history: pd.DataFrame  # date, value (NaN = unknown day)
    drivers: Drivers | None = None  # bookings and events (drivers.py)
    subdivision: str | None = None  # the region whose holidays the models read (DE-SN: Saxony)

    @property
    def place(self) -> str:
        """The ISO 3166 code of the holiday calendar (``calendars.py``): the region, or else
        the country."""
        return place_code(self.country, self.subdivision)

    def series(self) -> pd.Series:
        """The history as a complete calendar; built once (backtest, refit and summary read it)."""
        return self._series.copy()

    @cached_property
    def _series(self) -> pd.Series:
        return daily_series(self.history["date"], self.history["value"])


@dataclass
class SeriesBacktestResult:
    bt: SeriesBacktest
    global_inputs: GlobalInputs | None
    seconds: float


def backtest_series(job: SeriesJob, config: TrainingConfig) -> SeriesBacktestResult:
    started = time.perf_counter()
    series = job.series()
    bt = plan_backtest(series, config.horizon, config.windows)
    local = [k for k in dict.fromkeys([BASELINE, *config.candidates]) if k in LOCAL_CANDIDATES]
    # The series' features once, for the boosted candidates of every window and the global model.
    state = origin_state(series, job.place, config.horizon, job.drivers)
    factories = {
        kind: (
            lambda kind=kind: make_forecaster(
                kind, job.place, config.seed, config.horizon, state=state, drivers=job.drivers
            )
        )
        for kind in local
    }
    run_candidates(series, bt, factories)
    inputs = None
    if GLOBAL in config.candidates:
        steps = range(1, config.windows + 1)
        inputs = global_inputs(series, job.place, config.horizon, bt, steps, state)
    return SeriesBacktestResult(bt, inputs, time.perf_counter() - started)


def refit_inputs(job: SeriesJob, config: TrainingConfig) -> GlobalInputs:
    """What a series whose champion is refitted (no backtest) lends the batch's final global
    model: the global model learns from every series of the batch, refitted or reselected."""
    series = job.series()
    state = origin_state(series, job.place, config.horizon, job.drivers)
    return global_inputs(series, job.place, config.horizon, None, (), state)


def refit_champion(
    job: SeriesJob, kind: str, config: TrainingConfig, init: dict[str, Any] | None = None
) -> Forecaster:
    """``init``: the backtest's last fit of this kind (``SeriesBacktest.warm_starts``)."""
    series = job.series()
    return make_forecaster(
        kind, job.place, config.seed, config.horizon, init, drivers=job.drivers
    ).fit(series, closed_weekdays(series))


def global_forecaster(
    job: SeriesJob, model: Any, config: TrainingConfig, inputs: GlobalInputs | None = None
) -> GlobalForecaster:
    """``inputs``: what the series lent the global model; its rows from the last observed day,
    built with the rows the model learnt from, are kept to forecast the horizon."""
    series = job.series()
    tail = series.iloc[-(LOOKBACK_DAYS + 1) :]
    ahead = None
    if inputs is not None and inputs.end == len(series) - 1:
        ahead = RowsAhead(pd.Timestamp(series.index[-1]), inputs.forecast_rows[0])
    return GlobalForecaster(model, tail, job.place, config.horizon, ahead, job.drivers)


def backtest_summary(
    job: SeriesJob,
    series: pd.Series,
    bt: SeriesBacktest,
    scores: Mapping[str, CandidateScore],
    champion: str,
    config: TrainingConfig,
    seconds: float,
    prior: Mapping[str, float] | None = None,
    members: Sequence[str] = (),
    reason: str = "",
) -> dict[str, Any]:
    """What is stored with the version (MLflow, flux.model_versions.backtest) and shown in Dagster."""
    order = [s.kind for s in ranked(scores)]
    challenger = next((k for k in order if k != champion), None)
    best = scores[champion]
    return {
        "champion": champion,
        "challenger": challenger,
        "baseline": BASELINE,
        "champion_rule": CHAMPION_RULE,
        # The batch's median relative error per candidate, which each series' was shrunk toward.
        "batch_prior": dict(prior or {}),
        "horizon": config.horizon,
        "windows": [w.origin.date().isoformat() for w in bt.windows],
        "closed_weekdays": sorted(closed_weekdays(series)),
        "closures": [[a.date().isoformat(), b.date().isoformat()] for a, b in closure_runs(series)],
        "accuracy": {
            "wape": best.wape,
            "mase": best.mase,
            "rmsle": best.rmsle,
            "bias": best.bias,
            "coverage_p10_p90": best.coverage,
            "baseline_wape": scores[BASELINE].wape,
            "ape_p80": best.ape_p80,
            "baseline_ape_p80": scores[BASELINE].ape_p80,
            "days": best.days,
        },
        "interval": {"quantiles": list(INTERVAL_QUANTILES), "space": "log1p", "coverage": "LOWO"},
        "candidates": {kind: s.as_dict() for kind, s in scores.items()},
        "ranking": order,
        "failed_candidates": sorted(bt.failed),
        "candidate_errors": dict(bt.failed),
        "observed_days": int(series.notna().sum()),
        "seed": config.seed,
        "seconds": round(seconds, 3),
        "members": list(members),
        "selection": {"mode": "select", "reason": reason},
        "history": history_record(series),
    }


def history_record(series: pd.Series) -> dict[str, str]:
    """The history a version saw: its last observed day and a digest of the days through it
    (``selection.plan_series`` reselects when those days change)."""
    through = last_observed(series)
    return {"through": through.date().isoformat(), "digest": history_digest(series, through)}


def finish_series(
    job: SeriesJob,
    result: SeriesBacktestResult,
    forecaster: Forecaster,
    scores: Mapping[str, CandidateScore],
    champion: str,
    config: TrainingConfig,
    prior: Mapping[str, float] | None = None,
    reason: str = "",
) -> DemandModel:
    series = job.series()
    score = scores[champion]
    return DemandModel(
        tenant_id=job.tenant_id,
        metric=job.metric,
        kind=champion,
        country=job.country,
        forecaster=forecaster,
        closed=closed_weekdays(series),
        log_q10=score.log_q10,
        log_q90=score.log_q90,
        last_observed_date=last_observed(series),
        backtest=backtest_summary(
            job,
            series,
            result.bt,
            scores,
            champion,
            config,
            result.seconds,
            prior,
            result.bt.members.get(champion, ()),
            reason,
        ),
    )


def refitted_model(
    job: SeriesJob, plan: SeriesPlan, forecaster: Forecaster, seconds: float
) -> DemandModel:
    """The selection's champion refitted on the latest history: its kind and intervals kept, its
    backtest carried with what this refit saw and which selection it came from."""
    assert plan.kind is not None
    series = job.series()
    backtest = {
        **plan.backtest,
        "selection": {
            "mode": "refit",
            "reason": plan.reason,
            "selected_version": plan.selected_version,
            "selected_at": plan.selected_at,
        },
        "history": history_record(series),
        "observed_days": int(series.notna().sum()),
        "closed_weekdays": sorted(closed_weekdays(series)),
        "seconds": round(seconds, 3),
    }
    return DemandModel(
        tenant_id=job.tenant_id,
        metric=job.metric,
        kind=plan.kind,
        country=job.country,
        forecaster=forecaster,
        closed=closed_weekdays(series),
        log_q10=plan.log_q10,
        log_q90=plan.log_q90,
        last_observed_date=last_observed(series),
        backtest=backtest,
    )


MIN_FALLBACK_DAYS = 1


def median_without_backtest(job: SeriesJob, config: TrainingConfig, reason: str) -> DemandModel:
    """A restaurant too new for even one backtest window still gets a forecast: the median of each
    weekday so far, with intervals from its in-sample week-on-week errors and no accuracy claimed.

    The median, not the last week: a new restaurant's first weeks swing (an opening rush, a slow
    Tuesday), and one odd day would set next week's. Recruit's 8 stores with bookings and under 60
    days on the tuning window: RMSLE 1.53 with the last week, 1.16 with the median of each weekday
    seen and no weekday closed (``closed_weekdays`` now keeps a sparse export's weekdays open).
    """
    series = job.series()
    observed = int(series.notna().sum())
    if observed < MIN_FALLBACK_DAYS:
        raise InsufficientHistory(f"{observed} observed days: need {MIN_FALLBACK_DAYS} to forecast")
    closed = closed_weekdays(series)
    open_days = ~np.isin(iso_weekdays(pd.DatetimeIndex(series.index)), list(closed))
    errors = (np.log1p(series) - np.log1p(series.shift(7)))[open_days].dropna()
    low, high = INTERVAL_QUANTILES
    log_q10, log_q90 = (
        (float(errors.quantile(low)), float(errors.quantile(high)))
        if len(errors) >= 5
        else (-0.5, 0.5)
    )
    return DemandModel(
        tenant_id=job.tenant_id,
        metric=job.metric,
        kind=WEEKDAY_MEDIAN,
        country=job.country,
        forecaster=WeekdayMedian().fit(series, closed),
        closed=closed,
        log_q10=log_q10,
        log_q90=log_q90,
        last_observed_date=last_observed(series),
        backtest={
            "champion": WEEKDAY_MEDIAN,
            "challenger": None,
            "baseline": BASELINE,
            "horizon": config.horizon,
            "windows": [],
            "closed_weekdays": sorted(closed),
            "closures": [
                [a.date().isoformat(), b.date().isoformat()] for a, b in closure_runs(series)
            ],
            "accuracy": {},
            "candidates": {},
            "note": f"no backtest ({reason}): the weekday median, accuracy not measured yet",
            "observed_days": observed,
            "seed": config.seed,
            "seconds": 0.0,
            "members": [],
            "selection": {"mode": "select", "reason": reason},
            "history": history_record(series),
        },
    )
