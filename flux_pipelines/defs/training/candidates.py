"""The candidate forecasters. Each fits on a daily series (NaN = unknown) and predicts a point.

Intervals are not each candidate's business: they come from the candidate's backtest residuals
(see ``model.py``), the same way for every kind, so their coverage can be compared.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np
import pandas as pd

from flux_pipelines.defs.training.series import holiday_flags, iso_weekdays

BASELINE = "seasonal_naive"


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


class ProphetForecaster:
    """Prophet: weekly (and, given two years, yearly) seasonality and the country's holidays."""

    kind = "prophet"

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
        model = Prophet(
            weekly_seasonality=True,
            yearly_seasonality=span_days >= 2 * 365,
            daily_seasonality=False,
            uncertainty_samples=0,
        )
        try:
            model.add_country_holidays(country_name=self.country)
        except (AttributeError, NotImplementedError, KeyError):
            logging.getLogger(__name__).warning("no holiday calendar for %s", self.country)
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


LAGS = (7, 14, 28, 364)
FEATURES = (
    *(f"lag_{lag}" for lag in LAGS),
    "rolling_mean_7",
    "rolling_mean_28",
    "day_of_week",
    "day_of_month",
    "month",
    "week_of_year",
    "day_of_year",
    "is_holiday",
)
_RECURSION_WINDOW = max(LAGS) + 1


def lag_features(values: pd.Series, country: str) -> pd.DataFrame:
    """The features of ``features_daily``, computed from the values alone (means exclude the day).

    Computed here rather than read from the table so that future days, whose lags include our own
    predictions, get exactly the same definitions as the training days.
    """
    dates = pd.DatetimeIndex(values.index)
    previous = values.shift(1)
    iso = dates.isocalendar()
    return pd.DataFrame(
        {
            **{f"lag_{lag}": values.shift(lag) for lag in LAGS},
            "rolling_mean_7": previous.rolling(7, min_periods=1).mean(),
            "rolling_mean_28": previous.rolling(28, min_periods=1).mean(),
            "day_of_week": dates.day_of_week + 1,
            "day_of_month": dates.day,
            "month": dates.month,
            "week_of_year": np.asarray(iso.week, dtype="int64"),
            "day_of_year": dates.day_of_year,
            "is_holiday": holiday_flags(country, dates),
        },
        index=dates,
    ).astype("float64")


class XGBoostForecaster:
    """Gradient-boosted trees on lag, rolling and calendar features, predicted recursively.

    Beyond the first day of the horizon the lags are our own predictions, never the actuals: the
    backtest then measures what the model can really do 28 days ahead.
    """

    kind = "xgboost"

    def __init__(self, country: str, seed: int = 0, n_estimators: int = 300) -> None:
        self.country = country
        self.seed = seed
        self.n_estimators = n_estimators
        self.model: Any = None
        self.history = pd.Series(dtype="float64")
        self.closed: frozenset[int] = frozenset()

    def fit(self, history: pd.Series, closed: frozenset[int]) -> XGBoostForecaster:
        import xgboost as xgb

        features = lag_features(history, self.country)
        targets = _training_targets(history, closed)
        rows = features.loc[targets.index].iloc[7:]
        if len(rows) < 14:
            raise ValueError(f"too few observed days for XGBoost ({len(rows)})")
        self.model = xgb.XGBRegressor(
            n_estimators=self.n_estimators,
            max_depth=4,
            learning_rate=0.05,
            subsample=0.8,
            colsample_bytree=0.8,
            random_state=self.seed,
            n_jobs=1,
            objective="reg:squarederror",
        )
        self.model.fit(rows.to_numpy(), targets.loc[rows.index].to_numpy())
        self.history = history.iloc[-_RECURSION_WINDOW:].copy()
        self.closed = closed
        return self

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        start = self.history.index.max() + pd.Timedelta(days=1)
        end = max(dates.max(), start)
        future = pd.date_range(start, end, freq="D")
        values = pd.concat([self.history, pd.Series(np.nan, index=future)])
        for day in future:
            window = values.loc[day - pd.Timedelta(days=_RECURSION_WINDOW) : day]
            row = lag_features(window, self.country).iloc[[-1]].to_numpy()
            closed_day = day.day_of_week + 1 in self.closed
            values.loc[day] = 0.0 if closed_day else max(float(self.model.predict(row)[0]), 0.0)
        return values.reindex(dates).to_numpy(dtype="float64")


CANDIDATES = (BASELINE, "prophet", "xgboost")


def make_forecaster(kind: str, country: str, seed: int) -> Forecaster:
    if kind == BASELINE:
        return SeasonalNaive()
    if kind == "prophet":
        return ProphetForecaster(country, seed)
    if kind == "xgboost":
        return XGBoostForecaster(country, seed)
    raise ValueError(f"unknown candidate {kind!r}; known: {', '.join(CANDIDATES)}")
