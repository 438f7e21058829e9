"""The backtest accuracy a model version carries, as columns the routes select."""

from __future__ import annotations

from flux_core.db.tables import model_versions

_accuracy = model_versions.c.backtest["accuracy"]
# The 80th percentile of the backtest's absolute percentage errors, the model's and the baseline's:
# "on 8 days in 10 within ±x%". Older versions lack them (null).
TYPICAL_ERROR = _accuracy["ape_p80"].as_float().label("typical_error")
BASELINE_TYPICAL_ERROR = _accuracy["baseline_ape_p80"].as_float().label("baseline_typical_error")
