"""A load interrupted mid-way — its process killed, or its database connection dropped — leaves
nothing behind, and running it again converges to exactly the rows of one clean load."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from uuid import UUID

import pandas as pd
import pytest
import sqlalchemy as sa

from flux_core.db.tables import rejected_rows, staged_sales, uploads
from flux_core.ingest.loader import load_upload
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings

DAYS = 400
BODY = (
    "date,sales,covers\n"
    + "".join(
        f"{day.date()},{100 + i % 37}.5,{10 + i % 11}\n"
        for i, day in enumerate(pd.date_range("2023-01-01", periods=DAYS))
    )
    + "2023-02-30,5,5\n"
)  # one bad line, so rejected rows are part of what must not double


def _receive(settings: FluxSettings, engine: sa.Engine, tenant: UUID, body: str) -> UUID:
    with engine.begin() as conn:
        return receive_upload(
            conn, landing_zone(settings), tenant, "s.csv", io.BytesIO(body.encode())
        ).upload_id


def _snapshot(engine: sa.Engine, tenant: UUID) -> tuple[list[tuple], list[tuple], str]:
    with engine.connect() as conn:
        staged = conn.execute(
            sa.select(staged_sales.c.metric, staged_sales.c.date, staged_sales.c.value)
            .where(staged_sales.c.tenant_id == tenant)
            .order_by(staged_sales.c.metric, staged_sales.c.date)
        ).all()
        rejected = conn.execute(
            sa.select(rejected_rows.c.line_number, rejected_rows.c.reason).where(
                rejected_rows.c.tenant_id == tenant
            )
        ).all()
        status = (
            conn.execute(
                sa.select(uploads.c.status)
                .where(uploads.c.tenant_id == tenant)
                .order_by(uploads.c.received_at.desc())
            )
            .scalars()
            .first()
        )
    return [tuple(r) for r in staged], [tuple(r) for r in rejected], status


def _blocked_merge_pid(engine: sa.Engine, timeout: float = 60) -> int:
    """The loader's backend, once it waits on a row lock inside its merge into staging."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            pid = conn.execute(
                sa.text(
                    "select pid from pg_stat_activity where wait_event_type = 'Lock' "
                    "and query ilike 'insert into flux.staged_sales%'"
                )
            ).scalar()
            if pid:
                return int(pid)
            conn.rollback()
            time.sleep(0.05)
    raise AssertionError("the load never reached its merge into staging")


@pytest.mark.parametrize("interruption", ["process killed", "connection dropped"])
def test_an_interrupted_load_converges_to_one_clean_load(
    interruption: str,
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant: Callable[..., UUID],
) -> None:
    clean, crashed = make_tenant(), make_tenant()
    zone = landing_zone(settings)
    load_upload(pipeline_engine, zone, _receive(settings, pipeline_engine, clean, BODY))
    expected = _snapshot(pipeline_engine, clean)
    assert expected[2] == "loaded" and len(expected[0]) == 2 * DAYS and len(expected[1]) == 1

    # An earlier day of the tenant, locked by us, makes the load stop half-way through its merge.
    earlier = _receive(settings, pipeline_engine, crashed, "date,sales\n2023-06-01,1\n")
    load_upload(pipeline_engine, zone, earlier)
    upload_id = _receive(settings, pipeline_engine, crashed, BODY)
    before = _snapshot(pipeline_engine, crashed)

    blocker = pipeline_engine.connect()
    blocker.begin()
    blocker.execute(
        sa.select(staged_sales).where(staged_sales.c.tenant_id == crashed).with_for_update()
    ).all()
    loader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, uuid; from flux_core.settings import get_settings; "
            "from flux_core.db.connections import get_engine; "
            "from flux_core.ingest.loader import load_upload; "
            "from flux_core.landing import landing_zone; s = get_settings(); "
            "load_upload(get_engine('pipeline', s), landing_zone(s), uuid.UUID(sys.argv[1]))",
            str(upload_id),
        ],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        backend = _blocked_merge_pid(pipeline_engine)
        if interruption == "process killed":
            loader.send_signal(signal.SIGKILL)
        else:
            with pipeline_engine.connect() as conn:
                conn.execute(sa.select(sa.func.pg_terminate_backend(backend)))
        loader.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
        loader.kill()

    assert loader.returncode != 0
    assert _snapshot(pipeline_engine, crashed) == before  # nothing of the interrupted load is left

    outcome = load_upload(pipeline_engine, zone, upload_id)
    again = load_upload(pipeline_engine, zone, upload_id)
    assert (outcome.status, again.skipped) == ("loaded", True)
    assert _snapshot(pipeline_engine, crashed) == expected
