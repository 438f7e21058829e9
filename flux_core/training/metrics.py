"""Forecast error metrics, all computed on the same known, open days of the held-back windows.

Unknown days (NaN) and the days a restaurant is closed never enter a metric: a missing day is not a
sale of zero, and a closed day forecast as zero would only flatter the score.
"""

from __future__ import annotations

import numpy as np


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |error| / sum |actual|."""
    total = float(np.abs(actual).sum())
    return float(np.abs(actual - predicted).sum() / total) if total > 0 else float("nan")


def bias(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Signed share of the total: positive when the forecast runs high."""
    total = float(np.abs(actual).sum())
    return float((predicted - actual).sum() / total) if total > 0 else float("nan")


def rmsle(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared log error (Recruit's metric), on log1p of both sides."""
    if len(actual) == 0:
        return float("nan")
    diff = np.log1p(np.clip(predicted, 0.0, None)) - np.log1p(np.clip(actual, 0.0, None))
    return float(np.sqrt(np.mean(diff**2)))


def mase(actual: np.ndarray, predicted: np.ndarray, scale: float) -> float:
    """Mean absolute error over the in-sample MAE of the weekly seasonal naive (``scale``)."""
    if len(actual) == 0 or not np.isfinite(scale) or scale <= 0:
        return float("nan")
    return float(np.abs(actual - predicted).mean() / scale)


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside [lower, upper]."""
    if len(actual) == 0:
        return float("nan")
    return float(((actual >= lower) & (actual <= upper)).mean())


TYPICAL_SHARE = 0.8


def typical_error(actual: np.ndarray, predicted: np.ndarray) -> float:
    """The error a manager reads: on 8 days in 10 the forecast was within this share of the
    actual (the 80th percentile of |error| / actual, over the days that sold something)."""
    sold = actual > 0
    if not sold.any():
        return float("nan")
    return float(np.quantile(np.abs(actual[sold] - predicted[sold]) / actual[sold], TYPICAL_SHARE))
