"""Replacing a tenant's forecasts: delete + insert in one transaction; readers never see half."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import pandas as pd
import sqlalchemy as sa

from flux_core.db.tables import forecasts


@dataclass(frozen=True)
class MetricForecast:
    metric: str
    model_version: int
    frame: pd.DataFrame  # date, p10, p50, p90


def forecast_rows(tenant_id: UUID, forecast: MetricForecast) -> list[dict[str, object]]:
    frame = forecast.frame
    if not ((frame["p10"] <= frame["p50"]) & (frame["p50"] <= frame["p90"])).all():
        raise ValueError(f"{forecast.metric}: quantiles out of order")
    if (frame["p10"] < 0).any():
        raise ValueError(f"{forecast.metric}: negative forecast")
    return [
        {
            "tenant_id": tenant_id,
            "metric": forecast.metric,
            "date": pd.Timestamp(row.date).date(),
            "p10": float(row.p10),
            "p50": float(row.p50),
            "p90": float(row.p90),
            "model_version": forecast.model_version,
        }
        for row in frame.itertuples(index=False)
    ]


def replace_forecasts(
    engine: sa.Engine, tenant_id: UUID, metric_forecasts: Sequence[MetricForecast]
) -> int:
    """The tenant's forecasts become exactly these; returns the rows written."""
    rows = [row for f in metric_forecasts for row in forecast_rows(tenant_id, f)]
    with engine.begin() as conn:
        conn.execute(sa.delete(forecasts).where(forecasts.c.tenant_id == tenant_id))
        if rows:
            conn.execute(sa.insert(forecasts), rows)
    return len(rows)
