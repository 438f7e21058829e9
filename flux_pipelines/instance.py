"""The Dagster instance Flux uses: DAGSTER_HOME under FLUX_HOME, storage in PostgreSQL."""

from __future__ import annotations

import os
import shutil

import dagster as dg

from flux_pipelines.db.connections import role_url, service_database
from flux_pipelines.settings import PROJECT_ROOT, FluxSettings


def dagster_environment(settings: FluxSettings) -> dict[str, str]:
    """Environment for Dagster processes: its home (with our dagster.yaml) and its storage URL."""
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    # dagster-postgres speaks psycopg2 (SQLAlchemy 2.1 would otherwise pick psycopg 3 for postgresql://).
    url = role_url(
        settings, "pipeline", database=service_database(settings, "dagster"), driver="psycopg2"
    )
    return {
        "DAGSTER_HOME": str(home),
        "FLUX_DAGSTER_PG_URL": url.render_as_string(hide_password=False),
    }


def dagster_instance(settings: FluxSettings) -> dg.DagsterInstance:
    os.environ.update(dagster_environment(settings))
    return dg.DagsterInstance.get()


def batch_partition_events(size: int) -> None:
    """Dagster writes the materializations of a step's partitions ``size`` to a statement.

    Its event batching is off unless ``DAGSTER_EVENT_BATCH_SIZE`` is set. One by one,
    demand_forecasts alone took 20.9 s for 100 tenants, 17.7 s batched (medians of 3 alternating
    runs). Set in the process that runs the steps, before they run; one already set is kept.
    """
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(size))
