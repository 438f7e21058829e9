"""Rolling-origin backtest: the same held-back windows for every candidate, scored on known days."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from flux_pipelines.defs.training.candidates import BASELINE, Forecaster
from flux_pipelines.defs.training.series import closed_weekdays, iso_weekdays, last_observed

MIN_TRAIN_DAYS = 28


class InsufficientHistory(ValueError):
    """Too little observed history to hold back even one window."""


@dataclass(frozen=True)
class Window:
    origin: pd.Timestamp  # the last day the models may see
    dates: pd.DatetimeIndex  # the held-back days


@dataclass
class CandidateScore:
    kind: str
    wape: float
    mase: float
    bias: float
    days: int
    residual_q10: float
    residual_q90: float
    window_wape: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def rolling_windows(series: pd.Series, horizon: int, windows: int) -> list[Window]:
    """Up to ``windows`` consecutive windows of ``horizon`` days ending at the last observed day.

    Windows whose training part is too short, or whose held-back days are all unknown, are dropped.
    """
    end = last_observed(series)
    found: list[Window] = []
    for k in range(windows, 0, -1):
        origin = end - pd.Timedelta(days=horizon * k)
        train_days = series.loc[:origin].notna().sum()
        dates = pd.date_range(origin + pd.Timedelta(days=1), periods=horizon, freq="D")
        if train_days < MIN_TRAIN_DAYS or series.reindex(dates).notna().sum() == 0:
            continue
        found.append(Window(origin=origin, dates=dates))
    if not found:
        raise InsufficientHistory(
            f"{int(series.notna().sum())} observed days: need {MIN_TRAIN_DAYS} before a "
            f"{horizon}-day window"
        )
    return found


def closed_day_forecast(
    predictions: np.ndarray, dates: pd.DatetimeIndex, closed: frozenset[int]
) -> np.ndarray:
    """Non-negative, and zero on the weekdays the restaurant is always closed."""
    out = np.clip(np.nan_to_num(predictions, nan=0.0), 0.0, None)
    out[np.isin(iso_weekdays(dates), list(closed))] = 0.0
    return out


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.abs(actual).sum())
    return float(np.abs(actual - predicted).sum() / total) if total > 0 else float("nan")


def bias(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.abs(actual).sum())
    return float((predicted - actual).sum() / total) if total > 0 else float("nan")


def seasonal_scale(history: pd.Series, season: int = 7) -> float:
    """MASE's denominator: the in-sample mean absolute error of the weekly naive forecast."""
    diffs = (history - history.shift(season)).abs().dropna()
    return float(diffs.mean()) if len(diffs) else float("nan")


def backtest(
    series: pd.Series,
    factories: Mapping[str, Callable[[], Forecaster]],
    horizon: int,
    windows: int,
) -> tuple[dict[str, CandidateScore], list[Window]]:
    """Score every candidate on the same windows; a candidate that raises is left out."""
    plan = rolling_windows(series, horizon, windows)
    scale = seasonal_scale(series.loc[: plan[0].origin])
    actual_parts: dict[str, list[np.ndarray]] = {kind: [] for kind in factories}
    predicted_parts: dict[str, list[np.ndarray]] = {kind: [] for kind in factories}
    open_residuals: dict[str, list[np.ndarray]] = {kind: [] for kind in factories}
    failed: set[str] = set()
    for window in plan:
        train = series.loc[: window.origin]
        closed = closed_weekdays(train)
        actual = series.reindex(window.dates).to_numpy(dtype="float64")
        known = ~np.isnan(actual)
        open_known = known & ~np.isin(iso_weekdays(window.dates), list(closed))
        for kind, factory in factories.items():
            if kind in failed:
                continue
            try:
                raw = factory().fit(train, closed).predict(window.dates)
            except Exception:  # noqa: BLE001 - a failing candidate is out, the others go on
                if kind == BASELINE:
                    raise
                failed.add(kind)
                continue
            predicted = closed_day_forecast(raw, window.dates, closed)
            actual_parts[kind].append(actual[known])
            predicted_parts[kind].append(predicted[known])
            # Closed days are exactly zero on both sides; they would only narrow the intervals.
            open_residuals[kind].append(actual[open_known] - predicted[open_known])
    scores: dict[str, CandidateScore] = {}
    for kind in factories:
        if kind in failed:
            continue
        actual = np.concatenate(actual_parts[kind])
        predicted = np.concatenate(predicted_parts[kind])
        mae = float(np.abs(actual - predicted).mean())
        residuals = np.concatenate(open_residuals[kind])
        if residuals.size == 0:
            residuals = np.zeros(1)
        scores[kind] = CandidateScore(
            kind=kind,
            wape=wape(actual, predicted),
            mase=mae / scale if scale and scale > 0 else float("nan"),
            bias=bias(actual, predicted),
            days=int(len(actual)),
            residual_q10=float(np.quantile(residuals, 0.1)),
            residual_q90=float(np.quantile(residuals, 0.9)),
            window_wape=[
                wape(a, p) for a, p in zip(actual_parts[kind], predicted_parts[kind], strict=True)
            ],
        )
    return scores, plan


def choose_champion(scores: dict[str, CandidateScore]) -> str:
    """The lowest WAPE; a model that does not beat the seasonal-naive baseline is not champion."""
    baseline = scores[BASELINE]
    contenders = [s for s in scores.values() if not np.isnan(s.wape)]
    if not contenders or np.isnan(baseline.wape):
        return BASELINE
    best = min(contenders, key=lambda s: (s.wape, s.kind != BASELINE))
    return best.kind if best.wape < baseline.wape else BASELINE


def ranked(scores: dict[str, CandidateScore]) -> Sequence[CandidateScore]:
    return sorted(scores.values(), key=lambda s: (np.isnan(s.wape), s.wape))
