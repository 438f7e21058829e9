"""Booking exports: recognised by their header, validated line by line, loaded exactly once per
visit day (a later upload of a day wins), and, for a multi-store export, only the uploading
tenant's stores."""

from __future__ import annotations

import datetime as dt
import io
from uuid import UUID

import sqlalchemy as sa

from flux_core.db.tables import rejected_rows, staged_bookings, store_codes
from flux_core.ingest.loader import load_upload
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings

TODAY = dt.date(2017, 6, 1)
# Recruit's air_reserve.csv, less the store column (a file per tenant).
OWN = (
    "visit_datetime,reserve_datetime,reserve_visitors\n"
    "2017-03-01 19:00:00,2017-02-20 10:00:00,2\n"
    "2017-03-01 20:00:00,2017-02-20 18:00:00,4\n"
    "2017-03-01 19:30:00,2017-02-25 09:00:00,3\n"
    "2017-03-02 19:00:00,2017-03-03 10:00:00,2\n"  # booked after the visit: rejected
    "2017-03-02 19:00:00,2017-02-27 10:00:00,0\n"  # a party of none: rejected
    "2017-03-02 21:00:00,2017-02-27 10:00:00,5\n"
)


def _receive(settings: FluxSettings, engine: sa.Engine, tenant: UUID, body: str) -> UUID:
    with engine.begin() as conn:
        return receive_upload(
            conn, landing_zone(settings), tenant, "reserve.csv", io.BytesIO(body.encode())
        ).upload_id


def _staged(engine: sa.Engine, tenant: UUID) -> dict[tuple[dt.date, dt.date], tuple[float, int]]:
    c = staged_bookings.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.visit_date, c.booked_on, c.covers, c.bookings).where(c.tenant_id == tenant)
        ).all()
    return {(r.visit_date, r.booked_on): (float(r.covers), r.bookings) for r in rows}


def _rejections(engine: sa.Engine, upload: UUID) -> list[tuple[int, str, str]]:
    c = rejected_rows.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.line_number, c.column_name, c.reason)
            .where(c.upload_id == upload)
            .order_by(c.line_number)
        ).all()
    return [tuple(r) for r in rows]


def test_a_tenants_booking_export_loads_per_visit_and_booking_day(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    zone = landing_zone(settings)
    upload = _receive(settings, pipeline_engine, tenant, OWN)
    outcome = load_upload(pipeline_engine, zone, upload, today=TODAY)
    assert (outcome.status, outcome.format, outcome.rows_loaded, outcome.rows_rejected) == (
        "loaded",
        "bookings",
        4,
        2,
    )
    march = dt.date(2017, 3, 1)
    assert _staged(pipeline_engine, tenant) == {
        (march, dt.date(2017, 2, 20)): (6.0, 2),
        (march, dt.date(2017, 2, 25)): (3.0, 1),
        (dt.date(2017, 3, 2), dt.date(2017, 2, 27)): (5.0, 1),
    }
    assert _rejections(pipeline_engine, upload) == [
        (5, "reserve_datetime", "the booking was made after the visit"),
        (6, "reserve_visitors", "the party size must be a whole number of at least 1"),
    ]
    # The same file again is a duplicate: nothing loads twice.
    again = _receive(settings, pipeline_engine, tenant, OWN)
    assert load_upload(pipeline_engine, zone, again, today=TODAY).status == "duplicate"
    # A correction of 1 March replaces that visit day whole and leaves 2 March alone.
    fix = _receive(
        settings,
        pipeline_engine,
        tenant,
        "visit_datetime,reserve_datetime,reserve_visitors\n2017-03-01 19:00,2017-02-28 12:00,7\n",
    )
    corrected = load_upload(pipeline_engine, zone, fix, today=TODAY)
    assert corrected.days_replaced == 1 and corrected.replaced_uploads == (upload,)
    assert _staged(pipeline_engine, tenant) == {
        (march, dt.date(2017, 2, 28)): (7.0, 1),
        (dt.date(2017, 3, 2), dt.date(2017, 2, 27)): (5.0, 1),
    }


def test_a_multi_store_export_loads_only_the_tenants_own_stores(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    mine, theirs = make_tenant(), make_tenant()
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.insert(store_codes),
            [
                {"store_code": f"air_mine_{mine}", "tenant_id": mine},
                {"store_code": f"air_theirs_{theirs}", "tenant_id": theirs},
            ],
        )
    body = (
        "air_store_id,visit_datetime,reserve_datetime,reserve_visitors\n"
        f"air_mine_{mine},2017-03-01 19:00:00,2017-02-20 10:00:00,2\n"
        f"air_theirs_{theirs},2017-03-01 19:00:00,2017-02-20 10:00:00,9\n"
        "air_nobody,2017-03-01 19:00:00,2017-02-20 10:00:00,4\n"
    )
    upload = _receive(settings, pipeline_engine, mine, body)
    outcome = load_upload(pipeline_engine, landing_zone(settings), upload, today=TODAY)
    assert (outcome.rows_loaded, outcome.rows_rejected) == (1, 2)
    assert _staged(pipeline_engine, mine) == {(dt.date(2017, 3, 1), dt.date(2017, 2, 20)): (2.0, 1)}
    assert _staged(pipeline_engine, theirs) == {}  # another tenant's store never loads
    assert [line for line, _, _ in _rejections(pipeline_engine, upload)] == [3, 4]
