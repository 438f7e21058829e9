"""The Dagster instance that dagster.yaml configures: runs, the daemon and the webserver use it."""

import dagster as dg
import pytest
import sqlalchemy as sa

from flux_core.db.connections import get_engine, service_database
from flux_core.settings import FluxSettings
from flux_pipelines.defs.tenants import TENANTS
from flux_pipelines.instance import dagster_environment


def _backends(engine: sa.Engine, database: str) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "select pid from pg_stat_activity "
                    "where datname = :db and pid <> pg_backend_pid()"
                ),
                {"db": database},
            ).scalars()
        )


def test_the_instance_reads_and_writes_through_connections_it_keeps(
    settings: FluxSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dagster-postgres alone opens a connection per read or write (10 ms of CPU each); the
    instance of dagster.yaml keeps its connections: many operations, the same few backends."""
    for name, value in dagster_environment(settings).items():
        monkeypatch.setenv(name, value)
    database = service_database(settings, "dagster")
    watcher = get_engine("owner", settings)
    before = _backends(watcher, database)
    instance = dg.DagsterInstance.get()
    try:
        instance.add_dynamic_partitions(TENANTS, ["00000000-0000-0000-0000-00000000a001"])

        def read() -> None:  # the event log's store, then the runs' store
            instance.get_dynamic_partitions(TENANTS)
            instance.get_run_records(dg.RunsFilter(job_name="ingest_to_forecast"), limit=1)

        read()
        opened = _backends(watcher, database) - before
        assert opened, "the instance holds no connection between operations"
        for _ in range(20):
            read()
        assert _backends(watcher, database) - before == opened
    finally:
        instance.delete_dynamic_partition(TENANTS, "00000000-0000-0000-0000-00000000a001")
        instance.dispose()
