"""The boosted models are fitted with ``xgboost.train``: the same trees as ``XGBRegressor``."""

from __future__ import annotations

import numpy as np
import xgboost as xgb

from flux_core.training.boosting import fit_booster, predict_boosted
from flux_core.training.candidates import XGBOOST_PARAMS
from flux_core.training.global_model import GLOBAL_PARAMS


def _rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(count, 12)).astype("float32")
    features[rng.random(features.shape) < 0.05] = np.nan  # features have gaps (short histories)
    target = np.nan_to_num(features[:, 0]) * 0.5 + np.sin(np.nan_to_num(features[:, 1]))
    return features, target + rng.normal(scale=0.1, size=count)


def test_fit_booster_grows_the_trees_the_sklearn_wrapper_grows() -> None:
    for params, count, n_jobs in ((XGBOOST_PARAMS, 3_000, 1), (GLOBAL_PARAMS, 20_000, 2)):
        features, target = _rows(count, seed=count)
        booster = fit_booster(features, target, params, seed=7, n_jobs=n_jobs)
        wrapper = xgb.XGBRegressor(
            n_estimators=params.trees,
            learning_rate=params.learning_rate,
            max_depth=params.max_depth,
            min_child_weight=params.min_child_weight,
            max_bin=params.max_bin,
            subsample=params.subsample,
            colsample_bytree=params.colsample_bytree,
            tree_method="hist",
            random_state=7,
            n_jobs=n_jobs,
        ).fit(features, target)
        ours = predict_boosted(booster, features)
        np.testing.assert_array_equal(ours, wrapper.predict(features))
        # A model pickled before (an XGBRegressor) still forecasts through the same call.
        np.testing.assert_array_equal(predict_boosted(wrapper, features), ours)
        other_seed = predict_boosted(
            fit_booster(features, target, params, seed=8, n_jobs=1), features
        )
        assert not np.array_equal(other_seed, ours)  # the seed reaches the fit (subsampling)
