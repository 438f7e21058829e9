"""Which tenants' champions already stand on their latest data (the nightly leaves them alone).

An upload starts a run that retrains its tenant (``ingest_to_forecast``). Restaurants upload in the
evening, so without this the nightly would train most of them a second time a few hours later, on
the same data, with the same seed: the same models, and twice the night's work at 10,000 tenants.

The schedule leaves such tenants out of its runs, and tags each run with the window it judged by
(``flux/current_if_trained``, ``flux_pipelines/defs/batches.py``): a run's range may still hold
some (``jobs.nightly_batches``), and its assets leave those out by the same rule, so that both
steps of the run agree on which they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.tables import model_versions, uploads
from flux_core.training.features import features_daily


def tenants_to_work_on(
    window: tuple[dt.datetime, dt.datetime] | None, engine: sa.Engine, tenants: Sequence[str]
) -> tuple[list[str], list[str]]:
    """A run's tenants split into those to work on and those left out as current (by the run's
    window; none outside a nightly run)."""
    if window is None or not tenants:
        return list(tenants), []
    with engine.connect() as conn:
        current = current_tenants(conn, *window, tenant_ids=tenants)
    return [t for t in tenants if t not in current], [t for t in tenants if t in current]


def current_tenants(
    conn: sa.Connection,
    trained_since: dt.datetime,
    trained_until: dt.datetime,
    tenant_ids: Sequence[str] | None = None,
) -> set[str]:
    """Tenants each of whose series (tenant-metric in ``features_daily``) has a champion trained
    from ``trained_since`` to ``trained_until`` (excluded) and after the tenant's latest upload
    was received; among ``tenant_ids`` if given.

    A series without a champion (new, or its training failed) makes its tenant not current, and so
    does an upload received after the training, loaded or not: its own run may still be coming.
    """
    if not sa.inspect(conn).has_table(features_daily.name, schema=features_daily.schema):
        return set()  # dbt has not built the features yet: nothing was trained on them
    series_query = sa.select(features_daily.c.tenant_id, features_daily.c.metric).distinct()
    upload_query = sa.select(
        uploads.c.tenant_id, sa.func.max(uploads.c.received_at).label("received_at")
    ).group_by(uploads.c.tenant_id)
    if tenant_ids is not None:
        ids = [UUID(t) for t in tenant_ids]
        series_query = series_query.where(features_daily.c.tenant_id.in_(ids))
        upload_query = upload_query.where(uploads.c.tenant_id.in_(ids))
    series, last_upload = series_query.subquery("series"), upload_query.subquery("last_upload")
    champion = model_versions.alias("champion")
    trained = champion.c.trained_at
    in_window = (trained >= trained_since) & (trained < trained_until)
    current = sa.func.coalesce(
        in_window & ((last_upload.c.received_at.is_(None)) | (trained > last_upload.c.received_at)),
        sa.false(),
    )
    rows: sa.ScalarResult[Any] = conn.execute(
        sa.select(series.c.tenant_id)
        .select_from(series)
        .outerjoin(
            champion,
            (champion.c.tenant_id == series.c.tenant_id)
            & (champion.c.metric == series.c.metric)
            & champion.c.is_champion,
        )
        .outerjoin(last_upload, last_upload.c.tenant_id == series.c.tenant_id)
        .group_by(series.c.tenant_id)
        .having(sa.func.bool_and(current))
    ).scalars()
    return {str(tenant) for tenant in rows}
