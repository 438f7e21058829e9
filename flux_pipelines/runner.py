"""Running the asset graph from the command line: every tenant with data, in batched runs.

Runs execute in this process against the project's Dagster instance (PostgreSQL storage), so they
appear in the Dagster UI with their logs and metadata like any other run.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Collection
from uuid import UUID

import dagster as dg
import sqlalchemy as sa

from flux_core.db.connections import get_engine
from flux_core.db.tables import uploads
from flux_core.settings import FluxSettings
from flux_pipelines.defs.batches import TenantBatch, Trigger, batches
from flux_pipelines.defs.tenants import TENANTS
from flux_pipelines.instance import dagster_instance

# On a terminal, warnings only: every log line stays in the run's event log, in the Dagster UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _quiet_libraries() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    for name in ("mlflow", "prophet", "cmdstanpy", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def tenants_with_data(settings: FluxSettings) -> list[str]:
    with get_engine("pipeline", settings).connect() as conn:
        tenant_ids: list[UUID] = list(
            conn.execute(sa.select(uploads.c.tenant_id).distinct()).scalars()
        )
        return [str(tenant_id) for tenant_id in tenant_ids]


def run_graph(
    settings: FluxSettings,
    job_name: str = "ingest_to_forecast",
    on_batch: Callable[[int, int, str, str], None] | None = None,
    only: Collection[UUID] | None = None,
    trigger: Trigger = "cli",
) -> list[dg.ExecuteInProcessResult]:
    """Materialize the job for every tenant that has data (or those of ``only`` that have),
    BATCH tenants a run."""
    from flux_pipelines.definitions import defs

    _quiet_libraries()
    instance = dagster_instance(settings)
    wanted = tenants_with_data(settings)
    if only is not None:
        wanted = [t for t in wanted if UUID(t) in set(only)]
    known = set(instance.get_dynamic_partitions(TENANTS))
    if missing := [t for t in wanted if t not in known]:
        instance.add_dynamic_partitions(TENANTS, missing)
    job = defs.resolve_job_def(job_name)
    results = []
    ranges = batches(instance.get_dynamic_partitions(TENANTS), set(wanted))
    for index, (first, last) in enumerate(ranges, start=1):
        if on_batch:
            on_batch(index, len(ranges), first, last)
        results.append(
            job.execute_in_process(
                instance=instance,
                run_config=QUIET,
                tags=TenantBatch(first, last, trigger).tags(),
                raise_on_error=False,
            )
        )
    return results
