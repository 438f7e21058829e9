"""The candidate forecasters. Each fits on a daily series (NaN = unknown) and predicts a point.

Intervals are not each candidate's business: they come from the candidate's backtest errors (see
``backtest.py``), the same way for every kind, so that their coverage can be compared.

The global model (``global_xgboost``) is not here: it is fitted across a whole batch of series at
once (``global_model.py``); what a tenant keeps of it is a ``GlobalForecaster``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd

from flux_pipelines.defs.training.direct_features import (
    OriginState,
    examples,
    origin_state,
    to_level,
    training_examples,
)
from flux_pipelines.defs.training.series import iso_weekdays

BASELINE = "seasonal_naive"
WEEKDAY_MEDIAN = "weekday_median"
PROPHET = "prophet"
XGBOOST = "xgboost"
GLOBAL = "global_xgboost"
ENSEMBLE = "ensemble"
ENSEMBLE_MEMBERS = (WEEKDAY_MEDIAN, GLOBAL)
CANDIDATES = (BASELINE, WEEKDAY_MEDIAN, PROPHET, XGBOOST, GLOBAL, ENSEMBLE)
LOCAL_CANDIDATES = (BASELINE, WEEKDAY_MEDIAN, PROPHET, XGBOOST)
MEDIAN_WEEKS = 12


class Forecaster(Protocol):
    kind: str

    def fit(self, history: pd.Series, closed: frozenset[int]) -> Forecaster: ...

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray: ...


def _training_targets(history: pd.Series, closed: frozenset[int]) -> pd.Series:
    """Observed days, without the weekdays the restaurant is closed (those are forecast as zero)."""
    observed = history.dropna()
    keep = ~np.isin(iso_weekdays(pd.DatetimeIndex(observed.index)), list(closed))
    return observed[keep]


class SeasonalNaive:
    """Each day is the last observed value of the same weekday."""

    kind = BASELINE

    def __init__(self) -> None:
        self.by_weekday: dict[int, float] = {}
        self.fallback = 0.0

    def fit(self, history: pd.Series, closed: frozenset[int]) -> SeasonalNaive:
        observed = history.dropna()
        if observed.empty:
            raise ValueError("no observed values to fit")
        weekdays = iso_weekdays(pd.DatetimeIndex(observed.index))
        self.by_weekday = {
            int(day): float(observed[weekdays == day].iloc[-1]) for day in np.unique(weekdays)
        }
        self.fallback = float(observed.median())
        return self

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return np.array([self.by_weekday.get(int(d), self.fallback) for d in iso_weekdays(dates)])


class WeekdayMedian(SeasonalNaive):
    """Each day is the median of the same weekday over the last ``weeks`` weeks (observed days)."""

    kind = WEEKDAY_MEDIAN

    def __init__(self, weeks: int = MEDIAN_WEEKS) -> None:
        super().__init__()
        self.weeks = weeks

    def fit(self, history: pd.Series, closed: frozenset[int]) -> WeekdayMedian:
        observed = history.dropna()
        if observed.empty:
            raise ValueError("no observed values to fit")
        recent = observed.loc[observed.index.max() - pd.Timedelta(days=7 * self.weeks - 1) :]
        weekdays = iso_weekdays(pd.DatetimeIndex(recent.index))
        self.by_weekday = {
            int(day): float(recent[weekdays == day].median()) for day in np.unique(weekdays)
        }
        self.fallback = float(recent.median())
        return self


@lru_cache(maxsize=64)
def prophet_holidays(country: str, first_year: int, last_year: int) -> pd.DataFrame | None:
    """The country's holidays as Prophet's ``holidays`` frame, built once per country and span
    (``add_country_holidays`` rebuilds them on every fit and every predict)."""
    from prophet.make_holidays import make_holidays_df

    try:
        frame = make_holidays_df(list(range(first_year, last_year + 1)), country)
    except (AttributeError, NotImplementedError, KeyError):
        logging.getLogger(__name__).warning("no holiday calendar for %s", country)
        return None
    return frame if len(frame) else None


class ProphetForecaster:
    """Prophet: weekly (and, given two years, yearly) seasonality and the country's holidays."""

    kind = PROPHET

    def __init__(self, country: str, seed: int = 0) -> None:
        self.country = country
        self.seed = seed
        self.model: Any = None

    def fit(self, history: pd.Series, closed: frozenset[int]) -> ProphetForecaster:
        from cmdstanpy.utils import get_logger
        from prophet import Prophet

        # cmdstanpy sets its own level on first use; take it first so ours sticks.
        get_logger().setLevel(logging.WARNING)
        logging.getLogger("prophet").setLevel(logging.WARNING)
        targets = _training_targets(history, closed)
        if len(targets) < 14:
            raise ValueError(f"too few observed days for Prophet ({len(targets)})")
        span_days = (targets.index.max() - targets.index.min()).days
        first_year = int(targets.index.min().year)
        model = Prophet(
            weekly_seasonality=True,
            yearly_seasonality=span_days >= 2 * 365,
            daily_seasonality=False,
            uncertainty_samples=0,
            holidays=prophet_holidays(self.country, first_year, first_year + 5),
        )
        model.fit(pd.DataFrame({"ds": targets.index, "y": targets.to_numpy()}), seed=self.seed)
        self.model = model
        return self

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        frame = self.model.predict(pd.DataFrame({"ds": dates}))
        return frame["yhat"].to_numpy(dtype="float64")

    # A fitted Prophet holds its Stan backend; its JSON form is the supported way to persist it.
    def __getstate__(self) -> dict[str, Any]:
        from prophet.serialize import model_to_json

        state = dict(self.__dict__)
        state["model"] = model_to_json(self.model) if self.model is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from prophet.serialize import model_from_json

        if state.get("model") is not None:
            state["model"] = model_from_json(state["model"])
        self.__dict__.update(state)


def boosted_regressor(seed: int, *, n_estimators: int, max_depth: int, n_jobs: int) -> Any:
    import xgboost as xgb

    return xgb.XGBRegressor(
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        min_child_weight=5,
        tree_method="hist",
        random_state=seed,
        n_jobs=n_jobs,
        objective="reg:squarederror",
    )


def predict_from_origin(
    model: Any, history: pd.Series, country: str, dates: pd.DatetimeIndex, horizon: int
) -> np.ndarray:
    """A direct model's forecast of ``dates`` from the last day of ``history``. Days beyond the
    trained horizon keep their calendar features; the trees read their ``horizon`` as the farthest
    one they were trained on."""
    last = pd.Timestamp(history.index.max())
    ahead = np.asarray((pd.DatetimeIndex(dates) - last).days)
    reach = int(max(ahead.max(initial=1), 1))
    state: OriginState = origin_state(history, country, reach)
    rows = examples(state, np.array([state.days - 1]), reach)
    raw = to_level(model.predict(rows.features), rows.scale)
    by_step = pd.Series(raw, index=np.arange(1, reach + 1))
    out = by_step.reindex(np.clip(ahead, 1, None)).to_numpy(dtype="float64", copy=True)
    return np.nan_to_num(out, nan=0.0)


class XGBoostForecaster:
    """Gradient-boosted trees on lag, rolling and calendar features of this tenant alone.

    Direct multi-horizon: every day of the horizon is predicted from what is known at the origin
    (``direct_features.py``), so the backtest measures what it can really do 28 days ahead.
    """

    kind = XGBOOST

    def __init__(self, country: str, seed: int = 0, horizon: int = 28) -> None:
        self.country = country
        self.seed = seed
        self.horizon = horizon
        self.model: Any = None
        self.history = pd.Series(dtype="float64")

    def fit(self, history: pd.Series, closed: frozenset[int]) -> XGBoostForecaster:
        state = origin_state(history, self.country, self.horizon)
        rows = training_examples(state, self.horizon, state.days - 1, closed)
        if len(rows) < 28:
            raise ValueError(f"too few training examples for XGBoost ({len(rows)})")
        self.model = boosted_regressor(self.seed, n_estimators=120, max_depth=3, n_jobs=1)
        self.model.fit(rows.features, rows.target)
        self.history = history
        return self

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return predict_from_origin(self.model, self.history, self.country, dates, self.horizon)


class GlobalForecaster:
    """One tenant's use of the batch's global model: the shared booster and this tenant's history."""

    kind = GLOBAL

    def __init__(self, model: Any, history: pd.Series, country: str, horizon: int) -> None:
        self.model = model
        self.history = history
        self.country = country
        self.horizon = horizon

    def fit(self, history: pd.Series, closed: frozenset[int]) -> GlobalForecaster:
        raise TypeError("the global model is fitted across a batch (global_model.py)")

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return predict_from_origin(self.model, self.history, self.country, dates, self.horizon)


class EnsembleForecaster:
    """The mean of its members' forecasts (the weekday median and the global model): two models
    that err differently, averaged, beat either on most restaurants' backtests."""

    kind = ENSEMBLE

    def __init__(self, members: list[Forecaster]) -> None:
        self.members = members

    def fit(self, history: pd.Series, closed: frozenset[int]) -> EnsembleForecaster:
        raise TypeError("an ensemble is assembled from fitted members (batch.py)")

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return np.mean([member.predict(dates) for member in self.members], axis=0)


def make_forecaster(kind: str, country: str, seed: int, horizon: int = 28) -> Forecaster:
    if kind == BASELINE:
        return SeasonalNaive()
    if kind == WEEKDAY_MEDIAN:
        return WeekdayMedian()
    if kind == PROPHET:
        return ProphetForecaster(country, seed)
    if kind == XGBOOST:
        return XGBoostForecaster(country, seed, horizon)
    raise ValueError(f"unknown per-series candidate {kind!r}; known: {', '.join(LOCAL_CANDIDATES)}")
