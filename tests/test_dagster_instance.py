"""The Dagster instance that dagster.yaml configures: runs, the daemon and the webserver use it."""

from pathlib import Path

import boto3
import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster_aws.ecs import EcsRunLauncher

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


PRODUCTION = Path(__file__).resolve().parent.parent / "infra" / "dagster"


def test_the_production_instance_launches_each_run_in_an_ecs_task_of_its_own(
    settings: FluxSettings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """infra/dagster/dagster.yaml loads: dagster-aws's EcsRunLauncher over the run task
    definition (registered in moto's ECS, as infra/ecs.tf would), and otherwise the instance of
    dagster.yaml."""
    for name, value in dagster_environment(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint)
    registered = ecs.register_task_definition(
        family="flux-production-run",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="2048",
        memory="8192",
        containerDefinitions=[{"name": "run", "image": "flux:test", "essential": True}],
    )["taskDefinition"]
    monkeypatch.setenv("FLUX_DAGSTER_RUN_TASK_DEFINITION", "flux-production-run")
    instance = dg.DagsterInstance.from_config(str(PRODUCTION))
    try:
        launcher = instance.run_launcher
        assert isinstance(launcher, EcsRunLauncher)
        assert launcher.task_definition == registered["taskDefinitionArn"]
        assert launcher.container_name == "run"
        assert launcher.use_current_ecs_task_config
        assert instance.get_dynamic_partitions(TENANTS) is not None  # its storage answers
    finally:
        instance.dispose()

    production = yaml.safe_load((PRODUCTION / "dagster.yaml").read_text())
    local = yaml.safe_load((PRODUCTION.parent.parent / "dagster.yaml").read_text())
    assert "run_launcher" not in local
    assert {k: v for k, v in production.items() if k != "run_launcher"} == local

    # A task definition without the container the launcher overrides is refused at start.
    ecs.register_task_definition(
        family="flux-production-other",
        containerDefinitions=[{"name": "web", "image": "flux:test", "memory": 512}],
    )
    monkeypatch.setenv("FLUX_DAGSTER_RUN_TASK_DEFINITION", "flux-production-other")
    with pytest.raises(Exception, match="container is not defined"):
        dg.DagsterInstance.from_config(str(PRODUCTION)).run_launcher  # noqa: B018
