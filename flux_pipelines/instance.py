"""The Dagster instance Flux uses: DAGSTER_HOME under FLUX_HOME, storage in PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from flux_core.db.connections import role_url, service_database
from flux_core.settings import PROJECT_ROOT, FluxSettings


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
        "FLUX_DAGSTER_MAX_CONCURRENT_RUNS": str(settings.dagster_max_concurrent_runs),
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


class PooledPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres' storage, holding its connections for the life of the process.

    Outside the webserver, dagster-postgres opens a new connection for every read and write
    (NullPool), so as not to pile up idle connections. A nightly run of 100 tenants opened 1,714
    of them, each about 10 ms of CPU (9.3 ms of it PostgreSQL's new backend): 17 CPU-s a run,
    a tenth of the nightly. Here each of its three stores keeps one connection (as
    ``dagster-webserver`` does, through the same ``optimize_for_webserver``), with a few more
    for threads that overlap. Set in dagster.yaml (``storage: custom``), so launched runs, the
    daemon and the webserver all build it from the instance's config.
    """

    POOL_RECYCLE = 3600  # seconds: a connection is replaced after an hour
    MAX_OVERFLOW = 4
    STATEMENT_TIMEOUT = 0  # none: a run's writes wait as long as they must

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        for store in (self._run_storage, self._event_log_storage, self._schedule_storage):
            store.optimize_for_webserver(
                statement_timeout=self.STATEMENT_TIMEOUT,
                pool_recycle=self.POOL_RECYCLE,
                max_overflow=self.MAX_OVERFLOW,
            )

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresStorage:
        from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=bool(config_value.get("should_autocreate_tables", True)),
            token_provider=get_token_provider_from_config(config_value),
        )
