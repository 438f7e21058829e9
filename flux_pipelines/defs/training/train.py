"""Train one tenant-metric: backtest every candidate, pick the champion, refit it on everything."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from flux_pipelines.defs.training.backtest import backtest, choose_champion
from flux_pipelines.defs.training.candidates import BASELINE, CANDIDATES, make_forecaster
from flux_pipelines.defs.training.model import DemandModel
from flux_pipelines.defs.training.series import closed_weekdays, daily_series, last_observed


@dataclass(frozen=True)
class TrainingConfig:
    horizon: int = 28
    windows: int = 3
    seed: int = 42
    candidates: Sequence[str] = CANDIDATES


def train_demand_model(
    history: pd.DataFrame,
    *,
    tenant_id: str,
    metric: str,
    country: str,
    config: TrainingConfig,
) -> DemandModel:
    """``history``: one row per day with ``date`` and ``value`` (NULL/NaN = unknown day)."""
    started = time.perf_counter()
    series = daily_series(history["date"], history["value"])
    kinds = list(dict.fromkeys([BASELINE, *config.candidates]))
    factories = {
        kind: (lambda kind=kind: make_forecaster(kind, country, config.seed)) for kind in kinds
    }
    scores, windows = backtest(series, factories, config.horizon, config.windows)
    champion = choose_champion(scores)
    closed = closed_weekdays(series)
    forecaster = make_forecaster(champion, country, config.seed).fit(series, closed)
    score = scores[champion]
    return DemandModel(
        tenant_id=tenant_id,
        metric=metric,
        kind=champion,
        country=country,
        forecaster=forecaster,
        closed=closed,
        residual_q10=score.residual_q10,
        residual_q90=score.residual_q90,
        last_observed_date=last_observed(series),
        backtest={
            "champion": champion,
            "baseline": BASELINE,
            "horizon": config.horizon,
            "windows": [w.origin.date().isoformat() for w in windows],
            "closed_weekdays": sorted(closed),
            "candidates": {kind: s.as_dict() for kind, s in scores.items()},
            "failed_candidates": sorted(set(kinds) - set(scores)),
            "observed_days": int(series.notna().sum()),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
