"""A tenant's forecasts from its @champion, replacing the previous ones in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
import sqlalchemy as sa
from test_training_synthetic import features_frame, synthetic_series

from flux_core.db.tables import forecasts
from flux_core.forecasts.writer import MetricForecast, replace_forecasts
from flux_core.settings import FluxSettings
from flux_core.training.entrypoint import train_batch
from flux_core.training.registry import ModelRegistry
from flux_core.training.train import TrainingConfig

CONFIG = TrainingConfig(
    horizon=14, windows=2, seed=3, candidates=("seasonal_naive", "xgboost"), workers=1
)


def _stored(engine: sa.Engine, tenant: UUID) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(forecasts)
                .where(forecasts.c.tenant_id == tenant)
                .order_by(forecasts.c.date)
            )
            .mappings()
            .all()
        )
    return pd.DataFrame(rows)


def test_champion_forecast_replaces_the_previous_one(
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant: Callable[..., UUID],
    tmp_path: Path,
) -> None:
    tenant, other = make_tenant(), make_tenant()
    history = synthetic_series(100, seed=9)
    [result] = train_batch(features_frame(str(tenant), "covers", history), CONFIG, tmp_path)
    registry = ModelRegistry(settings)
    registry.register(pipeline_engine, result, tmp_path / result["model_path"])
    model, version = registry.load_champion(tenant, "covers")

    stale = pd.DataFrame(
        {"date": [pd.Timestamp("2020-01-01").date()], "p10": 1.0, "p50": 2.0, "p90": 3.0}
    )
    replace_forecasts(pipeline_engine, tenant, [MetricForecast("covers", 99, stale)])
    replace_forecasts(pipeline_engine, other, [MetricForecast("covers", 1, stale)])

    written = replace_forecasts(
        pipeline_engine,
        tenant,
        [
            MetricForecast(
                "covers", version, model.predict(model.future_dates(settings.forecast_horizon_days))
            )
        ],
    )
    stored = _stored(pipeline_engine, tenant)
    assert written == len(stored) == settings.forecast_horizon_days
    assert set(stored["model_version"]) == {version}
    first = pd.Timestamp(history["date"].iloc[-1]) + pd.Timedelta(days=1)
    assert stored["date"].iloc[0] == first.date()
    assert ((stored["p10"] <= stored["p50"]) & (stored["p50"] <= stored["p90"])).all()
    assert (stored["p10"] >= 0).all()
    sundays = pd.to_datetime(stored["date"]).dt.day_of_week == 6
    assert (stored.loc[sundays, "p50"] == 0).all() and sundays.any()
    assert len(_stored(pipeline_engine, other)) == 1  # another tenant's rows are untouched


def test_a_bad_forecast_leaves_the_previous_one_in_place(
    pipeline_engine: sa.Engine, make_tenant: Callable[..., UUID]
) -> None:
    tenant = make_tenant()
    good = pd.DataFrame(
        {"date": [pd.Timestamp("2024-01-01").date()], "p10": 1.0, "p50": 2.0, "p90": 3.0}
    )
    replace_forecasts(pipeline_engine, tenant, [MetricForecast("sales", 1, good)])
    crossed = good.assign(p10=5.0)
    with pytest.raises(ValueError, match="out of order"):
        replace_forecasts(pipeline_engine, tenant, [MetricForecast("sales", 2, crossed)])
    assert list(_stored(pipeline_engine, tenant)["model_version"]) == [1]
