"""The jobs, schedules and sensors that span the areas, and the resources they all share."""

import dagster as dg

from flux_pipelines.defs.features import definitions as features
from flux_pipelines.defs.ingest.sensors import build_landing_sensor
from flux_pipelines.defs.orchestration.jobs import (
    daily_model_health,
    hourly_upload_health,
    ingest_to_forecast_job,
    model_health_job,
    nightly_retrain,
    retrain_job,
    upload_health_job,
)
from flux_pipelines.defs.orchestration.retries import build_retry_sensor
from flux_pipelines.defs.resources import FluxDatabase, LandingZoneResource
from flux_pipelines.defs.training import definitions as training

defs = dg.Definitions(
    jobs=[ingest_to_forecast_job, retrain_job, model_health_job, upload_health_job],
    sensors=[
        build_landing_sensor(ingest_to_forecast_job),
        build_retry_sensor(
            "retry_failed_loads", dg.AssetKey("staged_sales"), ingest_to_forecast_job
        ),
        build_retry_sensor("retry_failed_training", dg.AssetKey("demand_models"), retrain_job),
        build_retry_sensor("retry_failed_forecasts", dg.AssetKey("demand_forecasts"), retrain_job),
    ],
    schedules=[nightly_retrain, daily_model_health, hourly_upload_health],
    resources={
        "database": FluxDatabase(),
        "landing": LandingZoneResource(),
        **features.resources(),
        **training.resources(),
    },
)
