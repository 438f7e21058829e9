"""The candidate forecasters. Each fits on a daily series (NaN = unknown) and predicts a point.

Intervals are not each candidate's business: they come from the candidate's backtest errors (see
``backtest.py``), the same way for every kind, so that their coverage can be compared.

The global model (``global_xgboost``) is not here: it is fitted across a whole batch of series at
once (``global_model.py``); what a tenant keeps of it is a ``GlobalForecaster``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd

from flux_core.calendars import CATEGORIES, holiday_days
from flux_core.training.boosting import BoostingParams, fit_booster, predict_boosted
from flux_core.training.direct_features import (
    Examples,
    OriginState,
    examples,
    origin_state,
    to_level,
    training_examples,
)
from flux_core.training.drivers import Drivers
from flux_core.training.series import iso_weekdays

BASELINE = "seasonal_naive"
WEEKDAY_MEDIAN = "weekday_median"
PROPHET = "prophet"
XGBOOST = "xgboost"
GLOBAL = "global_xgboost"
ENSEMBLE = "ensemble"
# Members that err differently (a robust local level, a local and a global learner). Prophet adds
# little to them on Recruit's backtests and would cost every restaurant a refit.
ENSEMBLE_MEMBERS = (WEEKDAY_MEDIAN, XGBOOST, GLOBAL)
# Chosen on Recruit's tuning window (the 39 days before the last 39, 819 stores; every blend of
# these and Prophet in steps of 0.1) and checked on the last 39 days, which played no part. Against
# the equal blend, RMSLE/WAPE: 0.5887/0.3639 -> 0.5835/0.3598 on the tuning window, and
# 0.5259/0.3253 -> 0.5218/0.3264 on the last days. The global model alone: 0.5243/0.3297 there.
ENSEMBLE_WEIGHTS = {GLOBAL: 0.7, XGBOOST: 0.2, WEEKDAY_MEDIAN: 0.1}
CANDIDATES = (BASELINE, WEEKDAY_MEDIAN, PROPHET, XGBOOST, GLOBAL, ENSEMBLE)
LOCAL_CANDIDATES = (BASELINE, WEEKDAY_MEDIAN, PROPHET, XGBOOST)
MEDIAN_WEEKS = 12
# The per-tenant booster learns from an origin every 8 days (the global model: every 5). Its rows
# overlap (each origin's 28 days), and with 40% fewer of them a fit takes a sixth less time. On
# 150 Recruit stores x 3 windows of 39 days its RMSLE went 0.5549 -> 0.5498 (WAPE 0.3582 ->
# 0.3564); on 40 synthetic restaurants 0.1631 -> 0.1623. 8 is coprime with 7, so origins still
# fall on every weekday.
LOCAL_ORIGIN_STEP = 8
# The per-tenant booster: 80 trees at a rate of 0.075 rather than 120 at 0.05, a third less time
# for each of its four fits per restaurant. On Recruit's backtest windows the ensemble it belongs
# to scored RMSLE 0.5181 / WAPE 0.3740 with it, 0.5183 / 0.3743 before.
XGBOOST_PARAMS = BoostingParams(
    trees=80,
    learning_rate=0.075,
    max_depth=3,
    min_child_weight=5,
    max_bin=64,  # a few thousand rows: finer bins cost a third of the fit and add nothing
)


class Forecaster(Protocol):
    kind: str

    def fit(self, history: pd.Series, closed: frozenset[int]) -> Forecaster: ...

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray: ...


@runtime_checkable
class WarmStarted(Protocol):
    """A forecaster whose fit can start from an earlier fit's parameters (``init``)."""

    init: dict[str, Any] | None

    def warm_start(self) -> dict[str, Any]: ...


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
def prophet_holidays(place: str, first_year: int, last_year: int) -> pd.DataFrame | None:
    """The place's public and school holidays as Prophet's ``holidays`` frame (each name a
    holiday of its own, so a school break's days share one effect), built once per place and
    span (``add_country_holidays`` would rebuild them on every fit and every predict)."""
    rows = [
        {"holiday": name, "ds": pd.Timestamp(day)}
        for category in CATEGORIES
        for day, name in holiday_days(place, first_year, last_year, category)
    ]
    if not rows:
        logging.getLogger(__name__).warning("no holiday calendar for %s", place)
        return None
    return pd.DataFrame(rows)


TOLD_EVENT = "told event or promotion"


def with_events(
    holidays: pd.DataFrame | None, events: tuple[pd.Timestamp, ...]
) -> pd.DataFrame | None:
    """Prophet's holidays frame with the restaurant's flagged days as one holiday of their own."""
    if not events:
        return holidays
    told = pd.DataFrame({"holiday": TOLD_EVENT, "ds": pd.to_datetime(list(events)).normalize()})
    return told if holidays is None else pd.concat([holidays, told], ignore_index=True)


# L-BFGS stops when the objective or gradient improves by less than 10x Stan's default relative
# tolerances: warm-started from the previous window, a tenth fewer CPU-seconds per fit, and the
# backtest windows' RMSLE moved by 0.0004 (30 synthetic restaurants x 3 windows).
PROPHET_LBFGS_TOLERANCES = {"tol_rel_obj": 1e5, "tol_rel_grad": 1e8}


@lru_cache(maxsize=1)
def _quick_json_backend() -> type:
    """Prophet's CmdStanPy backend, writing Stan's input files with orjson.

    cmdstanpy writes them value by value in Python (``stanio``): a third of a fit on two years of
    days; the standard library's encoder still took 8 ms a fit, orjson half a millisecond (the
    same shortest round-trip text of each number, so Stan reads the same values). The
    optimisation itself is Prophet's own, Newton fallback included.
    """
    import tempfile
    from pathlib import Path

    import orjson
    from prophet.models import CmdStanPyBackend

    class QuickJsonBackend(CmdStanPyBackend):  # type: ignore[misc]
        def fit(self, stan_init: dict[str, Any], stan_data: dict[str, Any], **kwargs: Any) -> Any:
            if "init" in kwargs:
                stan_init = self.sanitize_custom_inits(stan_init, kwargs.pop("init"))
            inits, data = self.prepare_data(stan_init, stan_data)
            with tempfile.TemporaryDirectory(prefix="flux-prophet-") as folder:
                data_file, inits_file = Path(folder, "data.json"), Path(folder, "inits.json")
                data_file.write_bytes(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))
                inits_file.write_bytes(orjson.dumps(inits, option=orjson.OPT_SERIALIZE_NUMPY))
                args: dict[str, Any] = {
                    "data": str(data_file),
                    "inits": str(inits_file),
                    "algorithm": "Newton" if cast(float, data["T"]) < 100 else "LBFGS",
                    "iter": int(1e4),
                }
                args.update(kwargs)
                if args["algorithm"] == "LBFGS":
                    args = {**PROPHET_LBFGS_TOLERANCES, **args}
                try:
                    self.stan_fit = self.model.optimize(**args)
                except RuntimeError:
                    if not self.newton_fallback or args["algorithm"] == "Newton":
                        raise
                    args["algorithm"] = "Newton"  # takes no tolerances
                    for name in PROPHET_LBFGS_TOLERANCES:
                        args.pop(name, None)
                    self.stan_fit = self.model.optimize(**args)
            params = self.stan_to_dict_numpy(
                self.stan_fit.column_names, self.stan_fit.optimized_params_np
            )
            for name in params:
                params[name] = params[name].reshape((1, -1))
            return params

    return QuickJsonBackend


@lru_cache(maxsize=1)
def _quick_prophet() -> type:
    """Prophet, with two of its fit's Python steps done faster and to the same result.

    - Holiday features: Prophet looks each holiday up row by row (``pd.to_datetime`` and
      ``get_loc`` per holiday and day offset); here in one ``get_indexer``, for holiday frames
      without windows or per-holiday prior scales (ours: ``prophet_holidays``). Others go to Prophet.
    - The component matrix (which feature column belongs to which component) depends only on the
      column names and the holiday names, the same for every window of a series and for every
      series of a country: built once per such key instead of with a ``crosstab`` on every fit.
    """
    import copy

    from prophet import Prophet

    component_cache: dict[tuple[Any, ...], tuple[pd.DataFrame, Any]] = {}

    class QuickProphet(Prophet):  # type: ignore[misc]
        def make_holiday_features(
            self, dates: pd.Series, holidays: pd.DataFrame
        ) -> tuple[pd.DataFrame, list[float], list[str]]:
            index = pd.DatetimeIndex(dates).normalize()
            special = {"lower_window", "upper_window", "prior_scale"} & set(holidays.columns)
            if special or not index.is_unique or self.holidays_prior_scale <= 0:
                return super().make_holiday_features(dates, holidays)  # type: ignore[no-any-return]
            names = [str(name) for name in holidays["holiday"]]
            order = list(dict.fromkeys(names))
            found = index.get_indexer(pd.DatetimeIndex(pd.to_datetime(holidays["ds"])).normalize())
            columns = sorted(f"{name}_delim_+0" for name in order)
            column_of = {column[: -len("_delim_+0")]: i for i, column in enumerate(columns)}
            flags = np.zeros((len(index), len(columns)))
            for name, position in zip(names, found, strict=True):
                if position >= 0:
                    flags[position, column_of[name]] = 1.0
            features = pd.DataFrame(flags, columns=columns)
            if self.train_holiday_names is None:
                self.train_holiday_names = pd.Series(order)
            return features, [float(self.holidays_prior_scale)] * features.shape[1], order

        def regressor_column_matrix(
            self, seasonal_features: pd.DataFrame, modes: Any
        ) -> tuple[pd.DataFrame, Any]:
            if self.extra_regressors or self.train_component_cols is not None:
                return super().regressor_column_matrix(seasonal_features, modes)  # type: ignore[no-any-return]
            holiday_names = (
                None
                if self.train_holiday_names is None
                else tuple(self.train_holiday_names.unique())
            )
            key = (
                tuple(seasonal_features.columns),
                tuple((mode, tuple(names)) for mode, names in sorted(modes.items())),
                holiday_names,
                self.holidays_mode,
            )
            if key not in component_cache:
                if len(component_cache) > 256:
                    component_cache.clear()
                component_cache[key] = super().regressor_column_matrix(
                    seasonal_features, copy.deepcopy(modes)
                )
            cols, cached_modes = component_cache[key]
            return cols.copy(), copy.deepcopy(cached_modes)

    return QuickProphet


class ProphetForecaster:
    """Prophet: weekly (and, given two years, yearly) seasonality, the public and school holidays
    of the restaurant's region, and the days the restaurant flagged as an event or a promotion
    (as one more holiday: their future values are known at any origin). Bookings are not a
    regressor here: a regressor needs its value for every day of the fit and the horizon, and the
    covers booked for a day grow until the day itself, so the history's (complete) values would
    not be what a forecast can know.

    ``init``: the parameters of a fit on a shorter history of the same series (the previous
    backtest window), where the optimiser starts; Prophet keeps its own start for any parameter
    whose shape differs. It converges in about half the iterations to the same optimum, within
    the optimiser's tolerance.
    """

    kind = PROPHET

    def __init__(
        self,
        country: str,
        seed: int = 0,
        init: dict[str, Any] | None = None,
        events: tuple[pd.Timestamp, ...] = (),
    ) -> None:
        self.country = country
        self.seed = seed
        self.init = init
        self.events = events
        self.model: Any = None
        self._holidays: tuple[dict[pd.Timestamp, list[int]], int] | None = None

    def fit(self, history: pd.Series, closed: frozenset[int]) -> ProphetForecaster:
        from cmdstanpy.utils import get_logger

        # cmdstanpy sets its own level on first use; take it first so ours sticks.
        get_logger().setLevel(logging.WARNING)
        logging.getLogger("prophet").setLevel(logging.WARNING)
        targets = _training_targets(history, closed)
        if len(targets) < 14:
            raise ValueError(f"too few observed days for Prophet ({len(targets)})")
        span_days = (targets.index.max() - targets.index.min()).days
        first_year = int(targets.index.min().year)
        # Holidays up to two years past the history cover any horizon (at most 366 days).
        last_year = int(targets.index.max().year) + 2
        model = _quick_prophet()(
            weekly_seasonality=True,
            yearly_seasonality=span_days >= 2 * 365,
            daily_seasonality=False,
            uncertainty_samples=0,
            holidays=with_events(
                prophet_holidays(self.country, first_year, last_year),
                getattr(self, "events", ()),
            ),
        )
        model.stan_backend = _quick_json_backend()()
        options: dict[str, Any] = {"seed": self.seed}
        if self.init is not None:
            options["init"] = self.init
        model.fit(pd.DataFrame({"ds": targets.index, "y": targets.to_numpy()}), **options)
        self.model, self._holidays = model, None
        return self

    def warm_start(self) -> dict[str, Any]:
        """This fit's parameters, as ``init`` for a fit on a longer history of the same series."""
        params = self.model.params
        start: dict[str, Any] = {
            name: float(params[name][0][0]) for name in ("k", "m", "sigma_obs")
        }
        start.update({name: np.asarray(params[name][0]) for name in ("delta", "beta")})
        return start

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Prophet's ``yhat``, combined as ``Prophet.predict`` does (trend, then the multiplicative
        and additive terms) from Prophet's own trend and Fourier functions, without the data frames
        it builds on every call (a third of a backtest's Prophet time went to predicting 28 days):
        the fit's component matrix is reused and its holidays looked up by day. A model with
        anything else in it (regressors, conditions, logistic growth, holiday windows) is
        predicted by ``Prophet.predict`` itself."""
        model = self.model
        holidays = self._holiday_columns()
        if holidays is None:
            return np.asarray(model.predict(pd.DataFrame({"ds": dates}))["yhat"], dtype="float64")
        ds = pd.Series(pd.DatetimeIndex(dates).as_unit("ns"))
        t = ((ds - model.start) / model.t_scale).to_numpy(dtype="float64")
        params = model.params
        trend = model.piecewise_linear(
            t,
            np.nanmean(params["delta"], axis=0),
            float(np.nanmean(params["k"])),
            float(np.nanmean(params["m"])),
            np.asarray(model.changepoints_t, dtype="float64"),
        ) * model.y_scale + (model.y_min if model.scaling == "minmax" else 0.0)
        blocks = [
            model.fourier_series(ds, props["period"], props["fourier_order"])
            for props in model.seasonalities.values()
        ]
        days, width = holidays
        if width:
            flags = np.zeros((len(ds), width))
            for row, day in enumerate(ds.dt.normalize()):
                for column in days.get(day, ()):
                    flags[row, column] = 1.0
            blocks.append(flags)
        x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(ds), 0))
        components = model.train_component_cols
        if x.shape[1] != len(components):
            return np.asarray(model.predict(pd.DataFrame({"ds": dates}))["yhat"], dtype="float64")
        beta = np.asarray(params["beta"], dtype="float64").mean(axis=0)
        additive = x @ (components["additive_terms"].to_numpy() * beta) * model.y_scale
        multiplicative = x @ (components["multiplicative_terms"].to_numpy() * beta)
        return np.asarray(trend * (1 + multiplicative) + additive, dtype="float64")

    def _holiday_columns(self) -> tuple[dict[pd.Timestamp, list[int]], int] | None:
        """The fit's holiday feature columns (Prophet's: one per holiday name seen in training,
        sorted by column name) and the columns each day sets; None for a model whose features
        this shortcut does not build."""
        cached = getattr(self, "_holidays", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        model = self.model
        frame = model.holidays
        unusual = (
            model.growth != "linear"
            or model.logistic_floor
            or model.extra_regressors
            or model.country_holidays is not None
            or any(props["condition_name"] is not None for props in model.seasonalities.values())
            or (
                frame is not None
                and bool({"lower_window", "upper_window", "prior_scale"} & set(frame.columns))
            )
        )
        if unusual:
            return None
        days: dict[pd.Timestamp, list[int]] = {}
        width = 0
        if frame is not None and model.train_holiday_names is not None:
            names = [str(n) for n in model.train_holiday_names]
            columns = sorted(f"{name}_delim_+0" for name in dict.fromkeys(names))
            width = len(columns)
            position = {column[: -len("_delim_+0")]: i for i, column in enumerate(columns)}
            for day, name in zip(
                pd.to_datetime(frame["ds"]).dt.normalize(), frame["holiday"], strict=True
            ):
                column = position.get(str(name))
                if column is not None and column not in days.setdefault(day, []):
                    days[day].append(column)
        self._holidays = (days, width)
        return self._holidays

    # A fitted Prophet holds its Stan backend; its JSON form is the supported way to persist it.
    def __getstate__(self) -> dict[str, Any]:
        from prophet.serialize import model_to_json

        state = dict(self.__dict__)
        state.pop("_holidays", None)  # rebuilt from the model on first use
        state["model"] = model_to_json(self.model) if self.model is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from prophet.serialize import model_from_json

        if state.get("model") is not None:
            state["model"] = model_from_json(state["model"])
        self.__dict__.update(state)


def _by_step(model: Any, rows: Examples, ahead: np.ndarray) -> np.ndarray:
    """A direct model's forecast of the days ``ahead`` steps after the origin of ``rows`` (one
    row per step from 1). Days beyond the rows keep the last one's calendar features; the trees
    read their ``horizon`` as the farthest one they were trained on."""
    raw = to_level(predict_boosted(model, rows.features), rows.scale)
    by_step = pd.Series(raw, index=np.arange(1, len(raw) + 1))
    out = by_step.reindex(np.clip(ahead, 1, None)).to_numpy(dtype="float64", copy=True)
    return np.nan_to_num(out, nan=0.0)


def predict_from_state(
    model: Any, state: OriginState, origin: int, dates: pd.DatetimeIndex
) -> np.ndarray:
    """A direct model's forecast of ``dates`` from position ``origin`` of ``state``."""
    last = state.start + pd.Timedelta(days=origin)
    ahead = np.asarray((pd.DatetimeIndex(dates) - last).days)
    reach = int(max(ahead.max(initial=1), 1))
    return _by_step(model, examples(state, np.array([origin]), reach), ahead)


@dataclass(frozen=True)
class RowsAhead:
    """The feature rows of the ``len(rows)`` days after an origin, kept with a fitted direct
    model so that forecasting its horizon needs no recomputation of the history's features."""

    last: pd.Timestamp  # the origin's day
    rows: Examples

    @classmethod
    def of(cls, state: OriginState, origin: int, horizon: int) -> RowsAhead:
        return cls(
            state.start + pd.Timedelta(days=origin), examples(state, np.array([origin]), horizon)
        )

    def forecast(self, model: Any, dates: pd.DatetimeIndex) -> np.ndarray | None:
        """The forecast of ``dates``, or None when some date is not among the kept days."""
        ahead = np.asarray((pd.DatetimeIndex(dates) - self.last).days)
        if len(ahead) == 0 or ahead.min() < 1 or ahead.max() > len(self.rows):
            return None
        return _by_step(model, self.rows, ahead)


def _direct_forecast(forecaster: Any, dates: pd.DatetimeIndex) -> np.ndarray:
    """A fitted direct forecaster's forecast: from its kept rows where they reach, else from
    the features of its history (and drivers; models pickled before them have none)."""
    forecast = _from_kept_rows(forecaster, dates)
    if forecast is not None:
        return forecast
    return predict_from_origin(
        forecaster.model,
        forecaster.history,
        forecaster.country,
        dates,
        forecaster.horizon,
        getattr(forecaster, "drivers", None),
    )


def _from_kept_rows(forecaster: Any, dates: pd.DatetimeIndex) -> np.ndarray | None:
    """A direct forecaster's forecast from its ``RowsAhead``, or None where they do not reach
    (or the forecaster was pickled before it kept any)."""
    ahead: RowsAhead | None = getattr(forecaster, "ahead", None)
    return None if ahead is None else ahead.forecast(forecaster.model, dates)


def predict_from_origin(
    model: Any,
    history: pd.Series,
    country: str,
    dates: pd.DatetimeIndex,
    horizon: int,
    drivers: Drivers | None = None,
) -> np.ndarray:
    """A direct model's forecast of ``dates`` from the last day of ``history``."""
    ahead = np.asarray((pd.DatetimeIndex(dates) - pd.Timestamp(history.index.max())).days)
    state = origin_state(history, country, int(max(ahead.max(initial=1), 1)), drivers)
    return predict_from_state(model, state, state.days - 1, dates)


class XGBoostForecaster:
    """Gradient-boosted trees on lag, rolling and calendar features of this tenant alone.

    Direct multi-horizon: every day of the horizon is predicted from what is known at the origin
    (``direct_features.py``), so the backtest measures what it can really do 28 days ahead.

    ``state``: the features of the whole series, when the history to fit is a prefix of it (the
    backtest's windows): every feature at a day reads only days up to it, so the prefix's rows
    are the same, and the series' features are computed once instead of once per window.
    """

    kind = XGBOOST

    def __init__(
        self,
        country: str,
        seed: int = 0,
        horizon: int = 28,
        state: OriginState | None = None,
        drivers: Drivers | None = None,
    ) -> None:
        self.country = country
        self.seed = seed
        self.horizon = horizon
        self.drivers = drivers
        self.model: Any = None
        self.history = pd.Series(dtype="float64")
        self.shared: OriginState | None = state
        self.origin = -1

    def _state_for(self, history: pd.Series) -> OriginState | None:
        state = self.shared
        if state is None or len(history) == 0 or pd.Timestamp(history.index[0]) != state.start:
            return None
        # Calendar features (holidays) must reach a horizon past the history's end.
        if len(history) > state.days or len(history) + self.horizon + 1 > len(state.holidays):
            return None
        return state

    def fit(self, history: pd.Series, closed: frozenset[int]) -> XGBoostForecaster:
        state = self._state_for(history) or origin_state(
            history, self.country, self.horizon, getattr(self, "drivers", None)
        )
        # What forecasting needs of the series' features is kept in ``ahead`` below.
        self.shared = None
        self.origin = len(history) - 1
        rows = training_examples(state, self.horizon, self.origin, closed, LOCAL_ORIGIN_STEP)
        if len(rows) < 28:
            raise ValueError(f"too few training examples for XGBoost ({len(rows)})")
        self.model = fit_booster(
            rows.features, rows.target, XGBOOST_PARAMS, seed=self.seed, n_jobs=1
        )
        self.history = history
        self.ahead = RowsAhead.of(state, self.origin, self.horizon)
        return self

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return _direct_forecast(self, dates)


class GlobalForecaster:
    """One tenant's use of the batch's global model: the shared booster and this tenant's history."""

    kind = GLOBAL

    def __init__(
        self,
        model: Any,
        history: pd.Series,
        country: str,
        horizon: int,
        ahead: RowsAhead | None = None,
        drivers: Drivers | None = None,
    ) -> None:
        """``ahead``: the rows of the days after the history's last day, if at hand."""
        self.model = model
        self.history = history
        self.country = country
        self.horizon = horizon
        self.ahead = ahead
        self.drivers = drivers

    def fit(self, history: pd.Series, closed: frozenset[int]) -> GlobalForecaster:
        raise TypeError("the global model is fitted across a batch (global_model.py)")

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return _direct_forecast(self, dates)


def log_mean(forecasts: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """The members' (weighted) mean on the log1p scale, a geometric mean: demand errors are
    multiplicative, and one member far too high does not drag the blend up as an arithmetic
    mean would."""
    stacked = np.log1p(
        np.clip(np.stack([np.asarray(f, dtype="float64") for f in forecasts]), 0, None)
    )
    return np.expm1(np.average(stacked, axis=0, weights=weights))


def ensemble_weights(members: list[str]) -> list[float]:
    """``ENSEMBLE_WEIGHTS`` of the members present, summing to one."""
    raw = [ENSEMBLE_WEIGHTS[m] for m in members]
    return [w / sum(raw) for w in raw]


class EnsembleForecaster:
    """The weighted log-scale mean of its members' forecasts (``ENSEMBLE_WEIGHTS``, of those that
    fitted): models that err differently, blended, beat each of them on most restaurants."""

    kind = ENSEMBLE

    def __init__(self, members: list[Forecaster], weights: list[float] | None = None) -> None:
        self.members = members
        self.weights = weights

    def fit(self, history: pd.Series, closed: frozenset[int]) -> EnsembleForecaster:
        raise TypeError("an ensemble is assembled from fitted members (batch.py)")

    def predict(self, dates: pd.DatetimeIndex) -> np.ndarray:
        # Ensembles pickled before the weights were equal blends.
        weights = getattr(self, "weights", None)
        return log_mean([member.predict(dates) for member in self.members], weights)


def make_forecaster(
    kind: str,
    country: str,
    seed: int,
    horizon: int = 28,
    init: dict[str, Any] | None = None,
    state: OriginState | None = None,
    drivers: Drivers | None = None,
) -> Forecaster:
    """``country``: the holiday calendar's ISO 3166 code, a country or a region (``DE-SN``), as
    every forecaster here keeps it (``calendars.py``);
    ``init``: a warm start (``warm_start()`` of an earlier fit of the same kind), if it has one;
    ``state``: the whole series' features, for a kind that reads them (see XGBoostForecaster);
    ``drivers``: bookings and events, for the kinds that learn from them."""
    if kind == BASELINE:
        return SeasonalNaive()
    if kind == WEEKDAY_MEDIAN:
        return WeekdayMedian()
    if kind == PROPHET:
        return ProphetForecaster(country, seed, init, drivers.events if drivers else ())
    if kind == XGBOOST:
        return XGBoostForecaster(country, seed, horizon, state, drivers)
    raise ValueError(f"unknown per-series candidate {kind!r}; known: {', '.join(LOCAL_CANDIDATES)}")
