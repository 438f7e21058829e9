"""Live accuracy: the forecasts restaurants were shown, scored against what happened.

Read from ``flux.forecast_outcomes`` (``writer.py`` keeps them) over the last 7 and 28 days of
each tenant-metric's outcomes: WAPE, bias (both relative to the actual total) and the share of
days the P10-P90 interval held the actual. Days closed and forecast closed (zero against zero)
count for nothing. ``GET /v1/accuracy`` shows it; the nightly reselects a series whose live WAPE
since its selection is worse than its backtest promised (``training/selection.py``).

SQLAlchemy Core only: the API imports this module, and must not import pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.tables import forecast_outcomes, model_versions

WINDOWS = (7, 28)
_o = forecast_outcomes.c


def _latest() -> sa.Subquery:
    return (
        sa.select(_o.tenant_id, _o.metric, sa.func.max(_o.date).label("last"))
        .group_by(_o.tenant_id, _o.metric)
        .subquery("latest")
    )


def _scored_days(latest: sa.Subquery, days: int) -> list[sa.ColumnElement[bool]]:
    return [
        _o.date > latest.c["last"] - days,
        (_o.actual > 0) | (_o.p50 > 0),
    ]


def live_accuracy(days: int) -> sa.Select[tuple[object, ...]]:
    """Per tenant-metric (row-level security scopes it to one tenant on the API), over its last
    ``days`` days with outcomes, beside its champion's backtest WAPE."""
    latest = _latest()
    actual_total = sa.func.sum(_o.actual)
    champion = model_versions.alias("champion")
    return (
        sa.select(
            _o.metric,
            sa.literal(days).label("window_days"),
            sa.func.count().label("days"),
            sa.func.min(_o.date).label("first_day"),
            sa.func.max(_o.date).label("last_day"),
            (sa.func.sum(sa.func.abs(_o.p50 - _o.actual)) / sa.func.nullif(actual_total, 0)).label(
                "wape"
            ),
            (sa.func.sum(_o.p50 - _o.actual) / sa.func.nullif(actual_total, 0)).label("bias"),
            sa.func.avg(sa.cast(_o.actual.between(_o.p10, _o.p90), sa.Integer)).label(
                "coverage_p10_p90"
            ),
            sa.func.avg(_o.horizon).label("mean_horizon"),
            sa.func.max(champion.c.wape).label("backtest_wape"),
        )
        .join(latest, (latest.c.tenant_id == _o.tenant_id) & (latest.c.metric == _o.metric))
        .outerjoin(
            champion,
            (champion.c.tenant_id == _o.tenant_id)
            & (champion.c.metric == _o.metric)
            & champion.c.is_champion,
        )
        .where(*_scored_days(latest, days))
        .group_by(_o.tenant_id, _o.metric)
        .order_by(_o.metric)
    )


def errors_by_version(
    tenant_ids: Sequence[UUID], days: int = WINDOWS[-1]
) -> sa.Select[tuple[object, ...]]:
    """Per tenant, metric and model version, over the last ``days`` days of outcomes: the days,
    the absolute error and the actual total (the nightly sums the versions since a selection)."""
    latest = _latest()
    return (
        sa.select(
            _o.tenant_id,
            _o.metric,
            _o.model_version,
            sa.func.count().label("days"),
            sa.func.sum(sa.func.abs(_o.p50 - _o.actual)).label("error"),
            sa.func.sum(_o.actual).label("actual"),
        )
        .join(latest, (latest.c.tenant_id == _o.tenant_id) & (latest.c.metric == _o.metric))
        .where(_o.tenant_id.in_(list(tenant_ids)), *_scored_days(latest, days))
        .group_by(_o.tenant_id, _o.metric, _o.model_version)
    )
