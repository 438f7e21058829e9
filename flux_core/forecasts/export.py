"""``flux forecasts export [--tenant ID] FILE``: the current forecasts as CSV, for people."""

from __future__ import annotations

import csv
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.connections import get_engine
from flux_core.db.tables import forecasts
from flux_core.settings import FluxSettings

COLUMNS = ("tenant", "date", "metric", "p10", "p50", "p90", "model_version")


def export_forecasts(settings: FluxSettings, path: Path, tenant_id: UUID | None = None) -> int:
    """Write every tenant's (or one tenant's) current forecasts to ``path``; returns the rows.

    Read as the pipeline role (which sees every tenant); ordered tenant, metric, date.
    """
    c = forecasts.c
    query = sa.select(c.tenant_id, c.date, c.metric, c.p10, c.p50, c.p90, c.model_version).order_by(
        c.tenant_id, c.metric, c.date
    )
    if tenant_id is not None:
        query = query.where(c.tenant_id == tenant_id)
    engine = get_engine("pipeline", settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with engine.connect() as conn, path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
            writer.writerow(
                [
                    row.tenant_id,
                    row.date.isoformat(),
                    row.metric,
                    f"{row.p10:.4f}",
                    f"{row.p50:.4f}",
                    f"{row.p90:.4f}",
                    row.model_version,
                ]
            )
            written += 1
    return written
