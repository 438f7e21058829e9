"""Jobs and the nightly schedule: every tenant, in batched runs of contiguous tenant partitions.

A run covers a range of up to ``batches.BATCH`` tenants (the assets iterate ``context.partition_keys``),
so 10,000 tenants take 100 runs a night rather than 10,000 process starts. Tenants whose upload
run has just trained them on their latest data are left out (``training/freshness.py``).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from flux_core.training.freshness import current_tenants
from flux_pipelines.defs.batches import TenantBatch, nightly_batches
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.tenants import TENANTS, tenants_in_flight

# Every step of a run in the run's own process. Dagster's default starts a process per step for a
# launched run, and each one imports the code location again (about 9 CPU-seconds here): the
# steps form a chain, so that bought no parallelism, only a process start per step and run. The
# training itself runs in a process of its own, with a worker per core.
EXECUTOR = dg.in_process_executor

# Checks over every tenant, once a day (``model_health``), not in each of the runs that feed them.
HEALTH_CHECKS = dg.AssetSelection.checks(
    dg.AssetCheckKey(dg.AssetKey("demand_models"), "champions_current"),
    dg.AssetCheckKey(dg.AssetKey("demand_forecasts"), "forecasts_current"),
)

# Uploads to forecasts: load, rebuild the dbt models, retrain and re-forecast the tenants.
ingest_to_forecast_job = dg.define_asset_job(
    "ingest_to_forecast",
    selection=dg.AssetSelection.all() - HEALTH_CHECKS,
    description="An upload's whole path: staged_sales → dbt models → demand_models → demand_forecasts.",
    executor_def=EXECUTOR,
)

# Nightly: the features are already current (they are rebuilt when data arrives); retrain and re-forecast.
retrain_job = dg.define_asset_job(
    "retrain_and_forecast",
    selection=dg.AssetSelection.assets("demand_models", "demand_forecasts") - HEALTH_CHECKS,
    description="Retrains every tenant's models and replaces its forecasts.",
    executor_def=EXECUTOR,
)


@dg.schedule(
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    job=retrain_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 UTC: every tenant retrained and re-forecast, 100 tenants a run, but those "
    "an upload run is training or trained on their latest data in the hours before "
    "(FLUX_NIGHTLY_SKIP_HOURS, 12).",
)
def nightly_retrain(
    context: dg.ScheduleEvaluationContext, database: FluxDatabase
) -> list[dg.RunRequest]:
    keys = list(context.instance.get_dynamic_partitions(TENANTS))
    hours = database.settings.nightly_skip_hours
    tonight = context.scheduled_execution_time
    current: set[str] = set()
    window: tuple[dt.datetime, dt.datetime] | None = None
    if hours > 0:
        since = tonight - dt.timedelta(hours=hours)
        with database.engine().connect() as conn:
            current = current_tenants(conn, since, tonight)
        window = (since, tonight)
    # An upload run under way trains its tenants on their newest data: the nightly would repeat it.
    busy = tenants_in_flight(context.instance, ingest_to_forecast_job.name, keys)
    wanted = set(keys) - current - busy
    context.log.info(
        f"{len(wanted)} of {len(keys)} tenants to retrain; {len(current)} trained on their "
        f"latest data in the last {hours:g} h, {len(busy - current)} in an upload run"
    )
    night = tonight.strftime("%Y-%m-%d")
    return [
        dg.RunRequest(
            run_key=f"nightly-{night}-{i}",
            tags=TenantBatch(first, last, "nightly", current_window=window).tags(),
        )
        for i, (first, last) in enumerate(nightly_batches(keys, wanted))
    ]


model_health_job = dg.define_asset_job(
    "model_health",
    selection=HEALTH_CHECKS,
    description="Which tenants' champions and forecasts the nightly has left more than 36 hours old.",
    executor_def=EXECUTOR,
)


UPLOAD_HEALTH = dg.AssetSelection.checks(
    dg.AssetCheckKey(dg.AssetKey("staged_sales"), "uploads_settled")
)

upload_health_job = dg.define_asset_job(
    "upload_health",
    selection=UPLOAD_HEALTH,
    description="Which uploads have waited more than an hour to be settled, and which failed.",
    executor_def=EXECUTOR,
)


@dg.schedule(
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    job=upload_health_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: fails the uploads_settled check while any upload waits over an hour "
    "(it also runs after every upload run).",
)
def hourly_upload_health(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"upload-health-{context.scheduled_execution_time:%Y-%m-%dT%H}")


@dg.schedule(
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    job=model_health_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="06:00 UTC, after the nightly: flags the tenants whose models or forecasts are overdue.",
)
def daily_model_health(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"model-health-{context.scheduled_execution_time:%Y-%m-%d}")
