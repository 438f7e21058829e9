"""Loading uploads into staging: exactly once, corrections replace days, nothing lost."""

from __future__ import annotations

import io
from uuid import UUID

import sqlalchemy as sa

from flux_pipelines.db.tables import rejected_rows, staged_sales, uploads
from flux_pipelines.defs.ingest.loader import load_upload
from flux_pipelines.defs.ingest.uploads import receive_upload
from flux_pipelines.landing import landing_zone
from flux_pipelines.settings import FluxSettings


def _upload(settings: FluxSettings, engine: sa.Engine, tenant: UUID, body: str) -> UUID:
    with engine.begin() as conn:
        return receive_upload(
            conn, landing_zone(settings), tenant, "sales.csv", io.BytesIO(body.encode())
        ).upload_id


def _staged(engine: sa.Engine, tenant: UUID) -> dict[tuple[str, str], float]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(staged_sales).where(staged_sales.c.tenant_id == tenant)).all()
    return {(r.metric, r.date.isoformat()): float(r.value) for r in rows}


def test_valid_rows_load_once_and_bad_rows_are_kept_with_reasons(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    body = "date,sales,covers\n2025-03-01,100.5,10\n2025-03-02,-5,11\n2025-03-03,80,9\n"
    upload_id = _upload(settings, pipeline_engine, tenant, body)

    outcome = load_upload(pipeline_engine, landing_zone(settings), upload_id)
    again = load_upload(pipeline_engine, landing_zone(settings), upload_id)

    assert (outcome.status, outcome.rows_total, outcome.rows_loaded, outcome.rows_rejected) == (
        "loaded",
        3,
        2,
        1,
    )
    assert again.skipped
    assert _staged(pipeline_engine, tenant) == {
        ("sales", "2025-03-01"): 100.5,
        ("covers", "2025-03-01"): 10.0,
        ("sales", "2025-03-03"): 80.0,
        ("covers", "2025-03-03"): 9.0,
    }
    with pipeline_engine.connect() as conn:
        rejected = conn.execute(
            sa.select(rejected_rows).where(rejected_rows.c.upload_id == upload_id)
        ).all()
    assert [(r.line_number, r.column_name, r.value) for r in rejected] == [(3, "sales", "-5")]


def test_the_same_file_twice_is_recognised_and_a_correction_replaces_days(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    zone = landing_zone(settings)
    first = _upload(
        settings, pipeline_engine, tenant, "date,sales\n2025-03-01,100\n2025-03-02,200\n"
    )
    twice = _upload(
        settings, pipeline_engine, tenant, "date,sales\n2025-03-01,100\n2025-03-02,200\n"
    )
    fix = _upload(settings, pipeline_engine, tenant, "date,sales\n2025-03-02,250\n2025-03-03,300\n")
    outcomes = [load_upload(pipeline_engine, zone, u) for u in (first, twice, fix)]

    assert [o.status for o in outcomes] == ["loaded", "duplicate", "loaded"]
    assert outcomes[2].days_replaced == 1
    assert _staged(pipeline_engine, tenant) == {
        ("sales", "2025-03-01"): 100.0,
        ("sales", "2025-03-02"): 250.0,
        ("sales", "2025-03-03"): 300.0,
    }
    with pipeline_engine.connect() as conn:
        owner_of_day = conn.execute(
            sa.select(staged_sales.c.upload_id).where(
                staged_sales.c.tenant_id == tenant,
                staged_sales.c.date == sa.func.date("2025-03-02"),
            )
        ).scalar_one()
        assert owner_of_day == fix


def test_an_unreadable_file_is_rejected_whole_and_kept(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    zone = landing_zone(settings)
    upload_id = _upload(settings, pipeline_engine, tenant, "when,amount\nyesterday,lots\n")
    outcome = load_upload(pipeline_engine, zone, upload_id)

    assert outcome.status == "rejected" and "date" in (outcome.error or "")
    assert _staged(pipeline_engine, tenant) == {}
    with pipeline_engine.connect() as conn:
        key = conn.execute(
            sa.select(uploads.c.object_key).where(uploads.c.upload_id == upload_id)
        ).scalar_one()
    with zone.open(key) as raw:
        assert raw.read() == b"when,amount\nyesterday,lots\n"
