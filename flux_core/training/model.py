"""The trained champion of one tenant-metric: predicts P10/P50/P90 for any future dates."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flux_core.training.backtest import closed_day_forecast, interval
from flux_core.training.candidates import Forecaster

MODEL_FILE = "model.pkl"


@dataclass
class DemandModel:
    """The champion forecaster refitted on the full history, with its backtest error percentiles.

    P50 is the forecaster's point; P10/P90 move it by the 10th/90th percentiles of the log errors
    (log1p(actual) - log1p(forecast)) it made on the backtest's held-back open days.
    """

    tenant_id: str
    metric: str
    kind: str
    country: str
    forecaster: Forecaster
    closed: frozenset[int]
    log_q10: float
    log_q90: float
    last_observed_date: pd.Timestamp
    backtest: dict[str, Any] = field(default_factory=dict)

    def future_dates(self, horizon: int) -> pd.DatetimeIndex:
        start = self.last_observed_date + pd.Timedelta(days=1)
        return pd.date_range(start, periods=horizon, freq="D")

    def predict(
        self,
        dates: pd.DatetimeIndex | pd.Series | list[Any],
        closures: Iterable[Any] = (),
    ) -> pd.DataFrame:
        """``closures``: dates the restaurant is known to be shut (all three quantiles zero)."""
        index = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates)).dt.normalize())
        p50 = closed_day_forecast(self.forecaster.predict(index), index, self.closed)
        shut = index.isin(pd.DatetimeIndex(pd.to_datetime(list(closures))).normalize())
        p50[shut] = 0.0
        p10, p90 = interval(p50, self.log_q10, self.log_q90)
        zero = shut | np.isin(index.day_of_week + 1, list(self.closed))
        p10[zero] = p90[zero] = 0.0
        return pd.DataFrame({"date": index.date, "p10": p10, "p50": p50, "p90": p90})

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        with path.open("wb") as out:
            pickle.dump(self, out)
        return path


def load_demand_model(path: Path) -> DemandModel:
    with path.open("rb") as src:
        model = pickle.load(src)  # noqa: S301 - our own artifact, written by the entrypoint
    if not isinstance(model, DemandModel):
        raise TypeError(f"{path} does not hold a DemandModel")
    return model
