"""Which tenants' champions already stand on their latest data (the nightly leaves them alone).

An upload starts a run that retrains its tenant (``ingest_to_forecast``). Restaurants upload in the
evening, so without this the nightly would train most of them a second time a few hours later, on
the same data, with the same seed: the same models, and twice the night's work at 10,000 tenants.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from flux_pipelines.db.tables import model_versions, uploads
from flux_pipelines.defs.training.features import features_daily


def current_tenants(conn: sa.Connection, trained_since: dt.datetime) -> set[str]:
    """Tenants each of whose series (tenant-metric in ``features_daily``) has a champion trained
    at or after ``trained_since`` and after the tenant's latest upload was received.

    A series without a champion (new, or its training failed) makes its tenant not current, and so
    does an upload received after the training, loaded or not: its own run may still be coming.
    """
    if not sa.inspect(conn).has_table(features_daily.name, schema=features_daily.schema):
        return set()  # dbt has not built the features yet: nothing was trained on them
    series = (
        sa.select(features_daily.c.tenant_id, features_daily.c.metric).distinct().subquery("series")
    )
    last_upload = (
        sa.select(uploads.c.tenant_id, sa.func.max(uploads.c.received_at).label("received_at"))
        .group_by(uploads.c.tenant_id)
        .subquery("last_upload")
    )
    champion = model_versions.alias("champion")
    trained = champion.c.trained_at
    current = sa.func.coalesce(
        (trained >= trained_since)
        & ((last_upload.c.received_at.is_(None)) | (trained > last_upload.c.received_at)),
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
