"""A Flux of its own for tests that break things on purpose: its own FLUX_HOME and PostgreSQL
cluster (which a test may stop and start again without touching the session's database), its own
landing zone, MLflow store and Dagster instance.

A pytest plugin (``tests/conftest.py``): the ``private_stack`` fixture is everywhere; import the
type with ``from private_stack import PrivateStack``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from flux_core.db.cluster import LocalCluster
from flux_core.db.connections import get_engine
from flux_core.db.migrate import migrate
from flux_core.db.tables import staged_sales, tenants, uploads
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings
from flux_pipelines.services import free_port

FLUX = str(Path(sys.executable).with_name("flux"))
# What the session's own test database and landing zone are; never the private stack's.
SESSION_VARIABLES = (
    "FLUX_DATABASE_URL",
    "FLUX_LANDING_URL",
    "DAGSTER_HOME",
    "FLUX_MLFLOW_TRACKING_URI",
)


@dataclass
class PrivateStack:
    home: Path
    settings: FluxSettings
    env: dict[str, str]

    @property
    def cluster(self) -> LocalCluster:
        return LocalCluster.from_settings(self.settings)

    def engine(self, role: typing.Literal["owner", "pipeline", "api"] = "pipeline") -> sa.Engine:
        return get_engine(role, self.settings)

    def stop_database(self) -> None:
        assert self.cluster.down()

    def start_database(self) -> None:
        self.cluster.up()

    def flux(
        self, *args: str, check: bool = True, timeout: float = 900, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [FLUX, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [FLUX, *args],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def tenant(self, name: str | None = None, country: str = "GB") -> uuid.UUID:
        with self.engine().begin() as conn:
            return conn.execute(
                sa.insert(tenants)
                .values(name=name or f"fault-{uuid.uuid4().hex[:8]}", country=country)
                .returning(tenants.c.tenant_id)
            ).scalar_one()

    def upload(self, tenant: uuid.UUID, body: bytes, filename: str = "sales.csv") -> uuid.UUID:
        with self.engine().begin() as conn:
            return receive_upload(
                conn, landing_zone(self.settings), tenant, filename, io.BytesIO(body)
            ).upload_id

    def staged(self, tenant: uuid.UUID) -> dict[tuple[str, str], float]:
        with self.engine().connect() as conn:
            rows = conn.execute(
                sa.select(staged_sales).where(staged_sales.c.tenant_id == tenant)
            ).all()
        return {(r.metric, r.date.isoformat()): float(r.value) for r in rows}

    def uploads_of(self, tenant: uuid.UUID) -> list[typing.Any]:
        with self.engine().connect() as conn:
            return list(
                conn.execute(
                    sa.select(uploads)
                    .where(uploads.c.tenant_id == tenant)
                    .order_by(uploads.c.received_at)
                ).all()
            )


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    home = tmp_path_factory.mktemp("private-flux")
    landing = (home / "landing").resolve().as_uri()
    api_port = free_port()
    settings = FluxSettings(
        home=home,
        database_url=None,
        landing_url=landing,
        mlflow_tracking_uri=None,
        environment="test",
        api_url=f"http://127.0.0.1:{api_port}",
    )
    env = {k: v for k, v in os.environ.items() if k not in SESSION_VARIABLES}
    env |= {
        "FLUX_HOME": str(home),
        "FLUX_ENVIRONMENT": "test",
        "FLUX_LANDING_URL": landing,
        "FLUX_API_URL": settings.api_url,
        "FLUX_WEB_PORT": str(free_port()),
        "FLUX_WEB_SESSION_SECRET": "the private stack's own session secret, long enough",
        "DAGSTER_HOME": str(home / "dagster"),
    }
    stack = PrivateStack(home, settings, env)
    stack.start_database()
    migrate(settings)
    try:
        yield stack
    finally:
        subprocess.run([FLUX, "stop"], env=env, capture_output=True, timeout=300, check=False)
