"""The asset checks on staged data flag the tenants they should, and only for the right reason."""

from __future__ import annotations

import io
from uuid import UUID

import dagster as dg
import sqlalchemy as sa

from flux_core.db.tables import staged_sales
from flux_core.ingest.loader import load_upload
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings
from flux_pipelines.defs.ingest.checks import freshness, rejection_rate, row_counts
from flux_pipelines.defs.resources import FluxDatabase


def _load(settings: FluxSettings, engine: sa.Engine, tenant: UUID, body: str) -> UUID:
    zone = landing_zone(settings)
    with engine.begin() as conn:
        upload_id = receive_upload(conn, zone, tenant, "s.csv", io.BytesIO(body.encode())).upload_id
    load_upload(engine, zone, upload_id)
    return upload_id


def _listed(result: dg.AssetCheckResult, key: str) -> str:
    return str(result.metadata[key].value)


def test_a_tenant_with_many_rejected_lines_fails_the_rejection_rate_check(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    lines = [f"2025-04-{day:02d},{-1 if day <= 3 else 10}" for day in range(1, 11)]
    _load(settings, pipeline_engine, tenant, "date,sales\n" + "\n".join(lines) + "\n")

    result = rejection_rate(database=FluxDatabase())
    assert not result.passed
    assert str(tenant) in _listed(result, "over_limit")


def test_a_tenant_whose_data_stopped_is_stale(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    _load(settings, pipeline_engine, tenant, "date,sales\n2024-01-01,5\n")

    result = freshness(database=FluxDatabase())
    assert not result.passed
    assert str(tenant) in _listed(result, "stale")


def test_a_loaded_upload_that_lost_its_rows_fails_row_counts(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    upload_id = _load(settings, pipeline_engine, tenant, "date,sales\n2025-05-01,5\n2025-05-02,6\n")
    assert str(upload_id) not in _listed(
        row_counts(database=FluxDatabase()), "uploads_without_rows"
    )

    with pipeline_engine.begin() as conn:
        conn.execute(sa.delete(staged_sales).where(staged_sales.c.tenant_id == tenant))
    result = row_counts(database=FluxDatabase())
    assert not result.passed
    assert str(upload_id) in _listed(result, "uploads_without_rows")


def test_an_upload_unsettled_for_over_an_hour_fails_uploads_settled(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    from flux_core.db.tables import uploads
    from flux_pipelines.defs.ingest.checks import uploads_settled

    tenant = make_tenant()
    zone = landing_zone(settings)
    with pipeline_engine.begin() as conn:
        fresh = receive_upload(
            conn, zone, tenant, "a.csv", io.BytesIO(b"date,sales\n2025-04-01,1\n")
        )
        old = receive_upload(conn, zone, tenant, "b.csv", io.BytesIO(b"date,sales\n2025-04-02,1\n"))
        conn.execute(
            sa.update(uploads)
            .where(uploads.c.upload_id == old.upload_id)
            .values(received_at=sa.func.now() - sa.text("interval '61 minutes'"), attempts=2)
        )

    result = uploads_settled(database=FluxDatabase())
    assert not result.passed
    listed = _listed(result, "unsettled")
    assert str(old.upload_id) in listed and str(fresh.upload_id) not in listed
    assert "'attempts': 2" in listed

    load_upload(pipeline_engine, zone, old.upload_id)
    result = uploads_settled(database=FluxDatabase())
    assert str(old.upload_id) not in _listed(result, "unsettled")
