"""A batch's plans: each series' champion and live accuracy read, and ``selection.plan_series``
applied (refit, reselect or keep, with the reason)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import pandas as pd
import sqlalchemy as sa

from flux_core.db.tables import model_versions
from flux_core.forecasts.accuracy import errors_by_version
from flux_core.training.entrypoint import series_jobs
from flux_core.training.selection import Champion, LiveAccuracy, SeriesPlan, plan_series

Key = tuple[str, str]


def read_champions(conn: sa.Connection, tenant_ids: Sequence[UUID]) -> dict[Key, Champion]:
    c = model_versions.c
    rows = conn.execute(
        sa.select(c.tenant_id, c.metric, c.version, c.model_kind, c.backtest, c.trained_at).where(
            c.tenant_id.in_(list(tenant_ids)), c.is_champion
        )
    )
    return {
        (str(r.tenant_id), r.metric): Champion(r.version, r.model_kind, r.backtest, r.trained_at)
        for r in rows
    }


def live_since_selection(
    conn: sa.Connection, tenant_ids: Sequence[UUID], champions: dict[Key, Champion]
) -> dict[Key, LiveAccuracy]:
    """Each series' live accuracy over its last 28 days, counting only the forecasts of versions
    made since its champion's selection (a reselection starts the count afresh)."""
    totals: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for row in conn.execute(errors_by_version(tenant_ids)):
        key = (str(row.tenant_id), row.metric)
        champion = champions.get(key)
        if champion is None or row.model_version < champion.selected_version:
            continue
        total = totals[key]
        total[0] += row.days
        total[1] += float(row.error or 0.0)
        total[2] += float(row.actual or 0.0)
    return {
        key: LiveAccuracy(int(days), error / actual if actual > 0 else None)
        for key, (days, error, actual) in totals.items()
    }


@dataclass(frozen=True)
class BatchPlan:
    plans: dict[Key, SeriesPlan]

    def of(self, mode: str) -> dict[Key, SeriesPlan]:
        return {key: plan for key, plan in self.plans.items() if plan.mode == mode}

    def to_train(self) -> list[dict[str, object]]:
        """What the training job reads (``job_files.PLANS_FILE``): every series not kept."""
        return [
            {"tenant_id": t, "metric": m, **plan.as_dict()}
            for (t, m), plan in sorted(self.plans.items())
            if plan.mode != "keep"
        ]

    def training_frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """``data`` less the series kept (nothing to train for them tonight)."""
        kept = self.of("keep")
        if not kept:
            return data
        keys = pd.MultiIndex.from_frame(data[["tenant_id", "metric"]])
        return data[~keys.isin(list(kept))].reset_index(drop=True)


def plan_batch(
    conn: sa.Connection,
    data: pd.DataFrame,
    drivers: pd.DataFrame | None,
    today: dt.date,
) -> BatchPlan:
    """Tonight's plan of every series of ``data`` (``features.read_training_frame``)."""
    jobs = series_jobs(data, drivers)
    tenant_ids = sorted({UUID(job.tenant_id) for job in jobs})
    champions = read_champions(conn, tenant_ids)
    live = live_since_selection(conn, tenant_ids, champions)
    plans = {}
    for job in jobs:
        key = (job.tenant_id, job.metric)
        try:
            series = job.series()
        except ValueError as exc:  # the tournament reports it as this series' failure
            plans[key] = SeriesPlan("select", f"history unreadable: {exc}")
            continue
        plans[key] = plan_series(job.tenant_id, series, champions.get(key), live.get(key), today)
    return BatchPlan(plans)
