"""Gradient-boosted trees for the per-tenant and the global model, fitted with XGBoost's own API.

``xgboost.train`` on a ``DMatrix`` grows the same trees as ``XGBRegressor.fit`` with the same
parameters (tested), without the wrapper's ``QuantileDMatrix`` and its checks: a per-tenant fit of
a few thousand rows went from 63 to 49 ms, and a restaurant's backtest and refit have four.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BoostingParams:
    trees: int
    learning_rate: float
    max_depth: int
    min_child_weight: float
    max_bin: int
    subsample: float = 0.8
    colsample_bytree: float = 0.8

    def xgboost(self, seed: int, n_jobs: int) -> dict[str, Any]:
        return {
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "tree_method": "hist",
            "max_bin": self.max_bin,
            "random_state": seed,
            "nthread": n_jobs,
            "objective": "reg:squarederror",
        }


def fit_booster(
    features: np.ndarray, target: np.ndarray, params: BoostingParams, *, seed: int, n_jobs: int
) -> Any:
    """An ``xgboost.Booster`` fitted on the rows (features: float32, rows x columns)."""
    import xgboost as xgb

    data = xgb.DMatrix(features, target, nthread=n_jobs)
    return xgb.train(params.xgboost(seed, n_jobs), data, num_boost_round=params.trees)


def predict_boosted(model: Any, features: np.ndarray) -> np.ndarray:
    """A booster's predictions; models pickled before ``fit_booster`` are ``XGBRegressor``s."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    return np.asarray(booster.inplace_predict(features), dtype="float64")
