"""An upload is judged on its own: what a file does never blocks its tenant's other uploads.

A file the loader cannot read or store is rejected at once and never tried again; a failure from
outside the file counts an attempt and the upload waits for the retry, until its attempts are
spent and it is failed. Later uploads load meanwhile, and the later upload of a day still wins
whichever loads first.
"""

from __future__ import annotations

import io
import typing
from uuid import UUID

import pytest
import sqlalchemy as sa

from flux_core.db.tables import staged_item_sales, staged_sales, uploads
from flux_core.ingest import loader
from flux_core.ingest.loader import MAX_LOAD_ATTEMPTS, load_uploads, pending_uploads_of
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import LandingZone, landing_zone
from flux_core.parsing import plain, schemas
from flux_core.settings import FluxSettings


def _upload(settings: FluxSettings, engine: sa.Engine, tenant: UUID, body: bytes | str) -> UUID:
    data = body.encode() if isinstance(body, str) else body
    with engine.begin() as conn:
        return receive_upload(
            conn, landing_zone(settings), tenant, "sales.csv", io.BytesIO(data)
        ).upload_id


def _staged(engine: sa.Engine, tenant: UUID) -> dict[tuple[str, str], tuple[float, UUID]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(staged_sales).where(staged_sales.c.tenant_id == tenant)).all()
    return {(r.metric, r.date.isoformat()): (float(r.value), r.upload_id) for r in rows}


def _upload_row(engine: sa.Engine, upload_id: UUID) -> typing.Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(uploads).where(uploads.c.upload_id == upload_id)).one()


class _FailingReads:
    """The landing zone, but reading the chosen objects fails as a store going away does."""

    def __init__(self, zone: LandingZone, broken: set[str]) -> None:
        self._zone, self.broken = zone, broken

    def put(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        return self._zone.put(*args, **kwargs)

    def list_keys(self, *args: typing.Any) -> list[str]:
        return self._zone.list_keys(*args)

    def open(self, key: str) -> typing.BinaryIO:
        stream = self._zone.open(key)
        if key not in self.broken:
            return stream
        stream.read(10)  # the first bytes arrive, then the connection drops

        class Dropped(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: typing.Any) -> int:
                raise ConnectionResetError("Connection reset by peer")

        return typing.cast(typing.BinaryIO, io.BufferedReader(Dropped()))


def test_a_broken_export_is_rejected_with_its_line_and_the_next_upload_loads(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    broken = _upload(
        settings,
        pipeline_engine,
        tenant,
        b'date,sales\n2025-03-01,100\n2025-03-02,5,"' + b"x" * 300_000 + b'"\n',
    )
    good = _upload(settings, pipeline_engine, tenant, "date,sales\n2025-03-03,7\n")

    outcomes = load_uploads(pipeline_engine, landing_zone(settings), [broken, good])

    assert [o.status for o in outcomes] == ["rejected", "loaded"]
    assert "Line 3" in (outcomes[0].error or "")
    row = _upload_row(pipeline_engine, broken)
    assert (row.status, row.attempts, row.rows_loaded) == ("rejected", 0, 0)
    assert _staged(pipeline_engine, tenant) == {("sales", "2025-03-03"): (7.0, good)}
    with pipeline_engine.connect() as conn:
        assert pending_uploads_of(conn, [tenant]) == []


def test_a_value_the_database_refuses_rejects_the_file_not_the_tenant(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant, monkeypatch
) -> None:
    """Parsing lets a value through that numeric(14, 2) cannot hold (here: its limits lifted):
    the database's refusal is the file's fault, so the upload is rejected and never retried."""
    monkeypatch.setattr(schemas, "MAX_AMOUNT", float("inf"))
    monkeypatch.setattr(plain, "MAX_AMOUNT", float("inf"))
    good, bad = make_tenant(), make_tenant()
    first = _upload(settings, pipeline_engine, good, "date,sales\n2025-03-01,100\n")
    broken = _upload(settings, pipeline_engine, bad, "date,sales\n2025-03-01,1000000000000000\n")
    later = _upload(settings, pipeline_engine, bad, "date,sales\n2025-03-02,5\n")
    last = _upload(settings, pipeline_engine, good, "date,sales\n2025-03-02,200\n")

    outcomes = load_uploads(pipeline_engine, landing_zone(settings), [first, broken, later, last])

    assert [o.status for o in outcomes] == ["loaded", "rejected", "loaded", "loaded"], outcomes
    assert "overflow" in (outcomes[1].error or "")
    assert _upload_row(pipeline_engine, broken).attempts == 0
    assert _staged(pipeline_engine, bad) == {("sales", "2025-03-02"): (5.0, later)}
    assert {k: v for k, (v, _) in _staged(pipeline_engine, good).items()} == {
        ("sales", "2025-03-01"): 100.0,
        ("sales", "2025-03-02"): 200.0,
    }


def test_the_values_staging_cannot_hold_are_rejected_lines(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    upload = _upload(
        settings, pipeline_engine, tenant, "date,sales\n2025-03-01,100\n2025-03-02,1e15\n"
    )
    [outcome] = load_uploads(pipeline_engine, landing_zone(settings), [upload])
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("loaded", 1, 1)


def test_a_failing_store_counts_attempts_then_fails_the_upload_alone(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    stuck = _upload(settings, pipeline_engine, tenant, "date,sales\n2025-03-01,100\n")
    later = _upload(settings, pipeline_engine, tenant, "date,sales\n2025-03-02,5\n")
    key = _upload_row(pipeline_engine, stuck).object_key
    zone = _FailingReads(landing_zone(settings), {key})

    first = load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [stuck, later])
    assert [o.status for o in first] == ["retry", "loaded"]
    assert "ConnectionResetError" in (first[0].error or "")
    row = _upload_row(pipeline_engine, stuck)
    assert (row.status, row.attempts) == ("received", 1)
    assert "Connection reset" in row.error

    for attempt in range(2, MAX_LOAD_ATTEMPTS + 1):
        with pipeline_engine.connect() as conn:
            assert pending_uploads_of(conn, [tenant]) == [stuck]
        [outcome] = load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [stuck])
        assert outcome.attempts == attempt
    assert outcome.status == "failed"
    row = _upload_row(pipeline_engine, stuck)
    assert (row.status, row.attempts) == ("failed", MAX_LOAD_ATTEMPTS)
    assert row.processed_at is not None
    with pipeline_engine.connect() as conn:
        assert pending_uploads_of(conn, [tenant]) == []
    assert _staged(pipeline_engine, tenant) == {("sales", "2025-03-02"): (5.0, later)}


def test_an_earlier_upload_loaded_after_a_later_one_leaves_it_the_days_they_share(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    earlier = _upload(
        settings, pipeline_engine, tenant, "date,sales\n2025-03-01,100\n2025-03-02,100\n"
    )
    later = _upload(settings, pipeline_engine, tenant, "date,sales\n2025-03-02,250\n2025-03-03,9\n")
    key = _upload_row(pipeline_engine, earlier).object_key
    zone = _FailingReads(landing_zone(settings), {key})

    first = load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [earlier, later])
    assert [o.status for o in first] == ["retry", "loaded"]
    zone.broken.clear()  # the store is back
    [retried] = load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [earlier])

    assert retried.status == "loaded"
    assert retried.days_written == 1 and retried.days_replaced == 0
    assert any("a later upload" in w and str(later) in w for w in retried.warnings)
    assert _staged(pipeline_engine, tenant) == {
        ("sales", "2025-03-01"): (100.0, earlier),
        ("sales", "2025-03-02"): (250.0, later),
        ("sales", "2025-03-03"): (9.0, later),
    }
    # The same outcome as loading them in their order.
    other = make_tenant()
    a = _upload(settings, pipeline_engine, other, "date,sales\n2025-03-01,100\n2025-03-02,100\n")
    b = _upload(settings, pipeline_engine, other, "date,sales\n2025-03-02,250\n2025-03-03,9\n")
    load_uploads(pipeline_engine, landing_zone(settings), [a, b])
    assert {k: v for k, (v, _) in _staged(pipeline_engine, other).items()} == {
        k: v for k, (v, _) in _staged(pipeline_engine, tenant).items()
    }


def test_an_earlier_line_item_export_leaves_a_later_ones_days(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    header = "Order Number,Order Date,Item Name,Quantity,Product Price,Total products\n"
    tenant = make_tenant()
    earlier = _upload(
        settings,
        pipeline_engine,
        tenant,
        header + "1,2025-03-01 12:00,Naan,2,2.50,1\n2,2025-03-02 12:00,Naan,1,2.50,1\n",
    )
    later = _upload(
        settings, pipeline_engine, tenant, header + "3,2025-03-02 13:00,Rice,4,3.00,1\n"
    )
    zone = _FailingReads(landing_zone(settings), {_upload_row(pipeline_engine, earlier).object_key})
    load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [earlier, later])
    zone.broken.clear()
    [retried] = load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [earlier])

    assert retried.status == "loaded"
    with pipeline_engine.connect() as conn:
        days = conn.execute(
            sa.select(staged_item_sales.c.date, staged_item_sales.c["items"])
            .where(staged_item_sales.c.tenant_id == tenant)
            .order_by(staged_item_sales.c.date)
        ).all()
    assert [(d.isoformat(), list(items)) for d, items in days] == [
        ("2025-03-01", ["Naan"]),
        ("2025-03-02", ["Rice"]),
    ]


@pytest.mark.parametrize("broken_first", [True, False])
def test_a_failing_upload_in_a_batch_does_not_hold_back_its_tenant(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant, broken_first: bool
) -> None:
    tenants = [make_tenant() for _ in range(3)]
    ids = [_upload(settings, pipeline_engine, t, "date,sales\n2025-03-01,1\n") for t in tenants]
    extra = _upload(settings, pipeline_engine, tenants[1], "date,sales\n2025-03-02,2\n")
    broken = ids[1] if broken_first else extra
    zone = _FailingReads(landing_zone(settings), {_upload_row(pipeline_engine, broken).object_key})

    outcomes = {
        o.upload_id: o.status
        for o in load_uploads(pipeline_engine, typing.cast(LandingZone, zone), [*ids, extra])
    }

    assert outcomes.pop(broken) == "retry"
    assert set(outcomes.values()) == {"loaded"}
    assert loader.MAX_LOAD_ATTEMPTS > 1
