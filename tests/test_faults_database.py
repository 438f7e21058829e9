"""PostgreSQL stopped and started again in the middle of things: nothing lost, nothing doubled.

After each fault and its recovery, every upload has settled exactly once, the staged rows are
those of one clean load, and (where the pipeline ran) the forecasts exist.
"""

from __future__ import annotations

import io
import threading
import typing
from uuid import UUID

import sqlalchemy as sa
from fastapi.testclient import TestClient
from private_stack import PrivateStack

from flux_api.main import create_app
from flux_api.security import create_access_token
from flux_core.db.tables import rejected_rows, users
from flux_core.ingest.loader import load_uploads, pending_uploads_of
from flux_core.landing import LandingZone, landing_zone
from flux_core.users import hash_password
from flux_pipelines.defs.ingest.sensors import scan_landing_zone

CSV = b"date,sales,covers\n2025-03-01,100.5,10\n2025-03-02,oops,11\n2025-03-03,80,9\n"
CLEAN = {
    ("sales", "2025-03-01"): 100.5,
    ("covers", "2025-03-01"): 10.0,
    ("sales", "2025-03-03"): 80.0,
    ("covers", "2025-03-03"): 9.0,
}


class _Gate:
    """The landing zone, with a pause in the middle of reading a file: the test breaks something
    while the load is under way, then lets it go on."""

    def __init__(self, zone: LandingZone) -> None:
        self._zone = zone
        self.reached, self.go_on = threading.Event(), threading.Event()

    def put(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        return self._zone.put(*args, **kwargs)

    def list_keys(self, *args: typing.Any) -> list[str]:
        return self._zone.list_keys(*args)

    def open(self, key: str) -> typing.BinaryIO:
        data = self._zone.open(key).read()
        gate = self

        class Paused(io.RawIOBase):
            position = 0

            def readable(self) -> bool:
                return True

            def readinto(self, buffer: typing.Any) -> int:
                if self.position >= len(data):
                    return 0
                if self.position > 0 and not gate.go_on.is_set():
                    gate.reached.set()
                    gate.go_on.wait(60)
                chunk = data[self.position : self.position + min(len(buffer), 16)]
                buffer[: len(chunk)] = chunk
                self.position += len(chunk)
                return len(chunk)

        return typing.cast(typing.BinaryIO, io.BufferedReader(Paused(), buffer_size=16))


def _rejected(stack: PrivateStack, upload: UUID) -> list[tuple[int, str]]:
    with stack.engine().connect() as conn:
        return [
            (r.line_number, r.column_name)
            for r in conn.execute(
                sa.select(rejected_rows).where(rejected_rows.c.upload_id == upload)
            )
        ]


def test_postgres_restarted_in_the_middle_of_a_load(private_stack: PrivateStack) -> None:
    stack = private_stack
    tenant = stack.tenant()
    upload = stack.upload(tenant, CSV)
    gate = _Gate(landing_zone(stack.settings))
    outcome: list[typing.Any] = []
    loading = threading.Thread(
        target=lambda: outcome.extend(
            load_uploads(stack.engine(), typing.cast(LandingZone, gate), [upload])
        )
    )
    loading.start()
    assert gate.reached.wait(60), "the load never reached the file"
    stack.stop_database()  # the load's transaction is open: its upload row is locked
    gate.go_on.set()
    loading.join(120)
    assert [o.status for o in outcome] == ["retry"]
    stack.start_database()

    with stack.engine().connect() as conn:
        assert pending_uploads_of(conn, [tenant]) == [upload]  # nothing of it was kept
    assert stack.staged(tenant) == {}
    [again] = load_uploads(stack.engine(), landing_zone(stack.settings), [upload])
    assert (again.status, again.rows_loaded, again.rows_rejected) == ("loaded", 2, 1)
    assert stack.staged(tenant) == CLEAN
    assert _rejected(stack, upload) == [(3, "sales")]
    [row] = stack.uploads_of(tenant)
    assert row.status == "loaded"


class _StopsTheDatabaseAfterStoring:
    """The landing zone, but PostgreSQL goes away just after the file is stored, before the API
    has recorded it."""

    def __init__(self, stack: PrivateStack) -> None:
        self._stack, self._zone = stack, landing_zone(stack.settings)

    def put(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        stored = self._zone.put(*args, **kwargs)
        self._stack.stop_database()
        return stored

    def open(self, key: str) -> typing.BinaryIO:
        return self._zone.open(key)

    def list_keys(self, *args: typing.Any) -> list[str]:
        return self._zone.list_keys(*args)


def test_postgres_restarted_in_the_middle_of_an_api_upload(private_stack: PrivateStack) -> None:
    stack = private_stack
    tenant = stack.tenant()
    with stack.engine().begin() as conn:
        user = conn.execute(
            sa.insert(users)
            .values(
                tenant_id=tenant,
                email=f"owner-{tenant}@faults.example",
                password_hash=hash_password("a password for the faults test"),
                role="owner",
            )
            .returning(users.c.user_id)
        ).scalar_one()
    headers = {
        "Authorization": f"Bearer {create_access_token(user, tenant, 'owner', stack.settings)}"
    }
    app = create_app(stack.settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.landing_zone = _StopsTheDatabaseAfterStoring(stack)
        response = client.post(
            "/v1/uploads", headers=headers, files={"file": ("sales.csv", CSV, "text/csv")}
        )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "30"
        assert "the file was kept" in response.json()["detail"]
        stack.start_database()

        # Sending it again is safe, and the owner does.
        app.state.landing_zone = landing_zone(stack.settings)
        retried = client.post(
            "/v1/uploads", headers=headers, files={"file": ("sales.csv", CSV, "text/csv")}
        )
        assert retried.status_code == 201, retried.text

    # The landing sensor finds the stored file that has no row yet, and registers it.
    scan = scan_landing_zone(stack.engine(), landing_zone(stack.settings), None)
    assert scan.registered == 1
    with stack.engine().connect() as conn:
        pending = pending_uploads_of(conn, [tenant])
    assert len(pending) == 2
    outcomes = load_uploads(stack.engine(), landing_zone(stack.settings), pending)

    assert sorted(o.status for o in outcomes) == ["duplicate", "loaded"]
    assert stack.staged(tenant) == CLEAN
    assert sorted(r.status for r in stack.uploads_of(tenant)) == ["duplicate", "loaded"]
    loaded = next(o for o in outcomes if o.status == "loaded")
    assert _rejected(stack, loaded.upload_id) == [(3, "sales")]
