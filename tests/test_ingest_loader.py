"""Loading uploads into staging: exactly once, corrections replace days, nothing lost."""

from __future__ import annotations

import io
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.tables import rejected_rows, staged_sales, uploads
from flux_core.ingest.loader import load_upload, load_uploads, pending_uploads_of
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings


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


def _history(engine: sa.Engine, upload_id: UUID) -> tuple:
    with engine.connect() as conn:
        row = conn.execute(sa.select(uploads).where(uploads.c.upload_id == upload_id)).one()
        rejected = conn.execute(
            sa.select(
                rejected_rows.c.line_number, rejected_rows.c.column_name, rejected_rows.c.value
            )
            .where(rejected_rows.c.upload_id == upload_id)
            .order_by(rejected_rows.c.line_number, rejected_rows.c.column_name)
        ).all()
    return (
        row.status,
        row.format,
        row.rows_total,
        row.rows_loaded,
        row.rows_rejected,
        row.date_min,
        row.date_max,
        row.days_replaced,
        len(row.replaced_uploads),
        row.warnings,
        row.error is not None,
        [tuple(r) for r in rejected],
    )


def _plain_days(first: str, days: int, base: float) -> str:
    import pandas as pd

    return "".join(
        f"{d.date()},{base + i % 7:.2f},{10 + i % 5}\n"
        for i, d in enumerate(pd.date_range(first, periods=days))
    )


# Per tenant, its uploads in order: every kind of outcome, and a correction (and a repeat) of
# an upload loaded in the same batch.
BATCH_CASES: list[list[str]] = [
    ["date,sales,covers\n" + _plain_days("2025-01-01", 40, 100)],
    ["date,sales,covers\n2025-03-01,100.5,10\n2025-03-02,-5,11\n2025-03-03,80,9\n"],
    ["when,amount\nyesterday,lots\n"],
    [
        "date,sales\n2025-03-01,100\n2025-03-02,200\n",
        "date,sales\n2025-03-01,100\n2025-03-02,200\n",
        "date,sales\n2025-03-02,250\n2025-03-03,300\n",
    ],
    ["Covers;Umsatz;Datum\n3;1.234,50;31.01.2025\n4;99,00;01.02.2025\n"],
]


def test_a_batch_gives_each_upload_the_outcome_it_gets_alone(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    zone = landing_zone(settings)
    alone, together = [], []
    for bodies in BATCH_CASES:
        a, b = make_tenant(), make_tenant()
        alone.append((a, [_upload(settings, pipeline_engine, a, body) for body in bodies]))
        together.append((b, [_upload(settings, pipeline_engine, b, body) for body in bodies]))

    one_by_one = [load_upload(pipeline_engine, zone, u) for _, ids in alone for u in ids]
    # Tenants interleaved as a run lists them (oldest first overall), two connections.
    with pipeline_engine.connect() as conn:
        pending = pending_uploads_of(conn, [t for t, _ in together])
    batched = load_uploads(pipeline_engine, zone, pending)

    assert [o.upload_id for o in batched] == pending
    by_id = {o.upload_id: o for o in batched}
    ordered = [by_id[u] for _, ids in together for u in ids]
    assert [o.status for o in ordered] == [o.status for o in one_by_one]
    assert [o.status for o in ordered] == [
        "loaded",
        "loaded",
        "rejected",
        "loaded",
        "duplicate",
        "loaded",
        "loaded",
    ]
    fields = ("rows_total", "rows_loaded", "rows_rejected", "days_replaced", "days_written")
    for got, want in zip(ordered, one_by_one, strict=True):
        assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
        assert len(got.replaced_uploads) == len(want.replaced_uploads)
        assert got.warnings == want.warnings
    for (a, a_ids), (b, b_ids) in zip(alone, together, strict=True):
        assert _staged(pipeline_engine, b) == _staged(pipeline_engine, a)
        for x, y in zip(a_ids, b_ids, strict=True):
            assert _history(pipeline_engine, y) == _history(pipeline_engine, x)
    # One transaction for the whole batch (now() is the transaction's start).
    with pipeline_engine.connect() as conn:
        settled_at = conn.execute(
            sa.select(uploads.c.processed_at).where(uploads.c.upload_id.in_(pending))
        ).scalars()
        assert len(set(settled_at)) == 1
    correction = by_id[together[3][1][2]]
    assert correction.days_replaced == 1 and correction.replaced_uploads == (together[3][1][0],)

    again = load_uploads(pipeline_engine, zone, pending)
    assert all(o.skipped for o in again)


def test_rows_breaking_the_staging_rules_never_reach_staging(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    """The batch's pandera check, whatever parsing let through (here: a hand-made parse)."""
    import datetime as dt

    import pandas as pd
    import pytest

    from flux_core.ingest import staging
    from flux_core.parsing.result import ParsedUpload, daily_rows

    tenant = make_tenant()
    upload_id = _upload(settings, pipeline_engine, tenant, "date,sales\n2025-03-01,1\n")
    with pipeline_engine.connect() as conn:
        row = conn.execute(sa.select(uploads).where(uploads.c.upload_id == upload_id)).one()
    daily = pd.DataFrame(
        {"date": [dt.date(2025, 3, 1), dt.date(2025, 3, 1)], "metric": ["sales", "sales"]}
        | {"value": [1.0, 2.0]}
    )
    parsed = ParsedUpload("daily", daily_rows(daily), None, pd.DataFrame(), 2)
    with pipeline_engine.begin() as conn, pytest.raises(staging.StagingRulesBroken) as refused:
        staging.merge_daily(
            conn, staging.Tables(conn), [staging.Staged(row, parsed)], dt.date(2025, 6, 1)
        )
    assert str(upload_id) in str(refused.value)
    assert _staged(pipeline_engine, tenant) == {}


def test_a_tenant_with_a_large_upload_loads_one_by_one_in_order(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant, monkeypatch
) -> None:
    from flux_core.ingest import loader

    monkeypatch.setattr(loader, "BATCH_MAX_BYTES", 40)  # "large": streamed, its own transaction
    zone = landing_zone(settings)
    big, small = make_tenant(), make_tenant()
    large = _upload(settings, pipeline_engine, big, "date,sales\n2025-03-01,100\n2025-03-02,200\n")
    fix = _upload(settings, pipeline_engine, big, "date,sales\n2025-03-02,250\n")
    other = _upload(settings, pipeline_engine, small, "date,sales\n2025-03-01,7\n")

    outcomes = load_uploads(pipeline_engine, zone, [large, fix, other])

    assert [o.status for o in outcomes] == ["loaded", "loaded", "loaded"]
    assert outcomes[1].replaced_uploads == (large,)
    assert _staged(pipeline_engine, big) == {
        ("sales", "2025-03-01"): 100.0,
        ("sales", "2025-03-02"): 250.0,
    }
    with pipeline_engine.connect() as conn:
        settled = dict(
            conn.execute(
                sa.select(uploads.c.upload_id, uploads.c.processed_at).where(
                    uploads.c.upload_id.in_([large, fix])
                )
            ).all()
        )
    assert settled[large] < settled[fix]  # two transactions, the large one first
