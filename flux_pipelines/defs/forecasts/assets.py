"""``demand_forecasts``: each tenant-metric's @champion forecasts the horizon (flux.forecasts)."""

import datetime as dt
import time
from typing import Any
from uuid import UUID

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from flux_core.db.tables import model_versions, uploads
from flux_core.forecasts.writer import MetricForecast, Row, forecast_rows, write_forecasts
from flux_core.training.features import last_observed_dates, read_drivers_frame
from flux_core.training.freshness import tenants_to_work_on
from flux_core.training.registry import ModelRegistry
from flux_pipelines.defs.batches import (
    TENANTS_CURRENT,
    TENANTS_FAILED,
    TENANTS_WITHOUT_MODEL,
    current_window,
)
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.tenants import tenants_partitions
from flux_pipelines.defs.training.assets import demand_models


def champion_metrics(conn: sa.Connection, tenant_id: UUID) -> list[str]:
    c = model_versions.c
    rows: sa.ScalarResult[str] = conn.execute(
        sa.select(c.metric).where(c.tenant_id == tenant_id, c.is_champion).order_by(c.metric)
    ).scalars()
    return [str(metric) for metric in rows]


def covered_through(conn: sa.Connection, tenant_id: UUID) -> pd.Timestamp | None:
    """The last day the tenant's loaded uploads cover, whatever metric: a restaurant closed on its
    last days has no rows for them, yet they are past, not days to forecast."""
    last = conn.execute(
        sa.select(sa.func.max(uploads.c.date_max)).where(
            uploads.c.tenant_id == tenant_id, uploads.c.status == "loaded"
        )
    ).scalar()
    return pd.Timestamp(last) if last is not None else None


def first_forecast_day(
    observed: pd.Timestamp, covered: pd.Timestamp | None, today: dt.date
) -> pd.Timestamp:
    """The first day that needs a forecast: after the last observed day, after the last day the
    uploads cover, and not before today (past days need none)."""
    after = max(observed, covered if covered is not None else observed) + pd.Timedelta(days=1)
    return max(after, pd.Timestamp(today))


def forecast_tenant(
    registry: ModelRegistry,
    conn: sa.Connection,
    tenant_id: UUID,
    horizon: int,
    today: dt.date | None = None,
) -> list[MetricForecast]:
    """The ``horizon`` days from the first that needs a forecast, per metric, from its champion;
    zero on the days the restaurant said it will be closed."""
    observed = last_observed_dates(conn, tenant_id)
    covered = covered_through(conn, tenant_id)
    day = today or dt.datetime.now(dt.UTC).date()
    drivers = read_drivers_frame(conn, [tenant_id])
    closed = drivers.loc[drivers["kind"] == "closed", "date"].tolist()
    out = []
    for metric in champion_metrics(conn, tenant_id):
        model, version = registry.load_champion(tenant_id, metric)
        first = first_forecast_day(observed.get(metric, model.last_observed_date), covered, day)
        dates = pd.date_range(first, periods=horizon, freq="D")
        out.append(MetricForecast(metric, version, model.predict(dates, closures=closed)))
    return out


@dg.asset(
    partitions_def=tenants_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=100),
    deps=[demand_models],
    group_name="forecasts",
    kinds={"python", "postgres"},
    description="P10/P50/P90 for the next forecast_horizon_days of every tenant-metric, from its "
    "MLflow @champion; the run's tenants' rows in flux.forecasts replaced in one transaction "
    "(COPY), the forecasts of days whose actuals came kept in flux.forecast_outcomes.",
)
def demand_forecasts(
    context: dg.AssetExecutionContext, database: FluxDatabase
) -> dg.MaterializeResult:
    settings, engine = database.settings, database.engine()
    registry = ModelRegistry(settings)
    horizon = settings.forecast_horizon_days
    written: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    # Never trained (no sales yet, or its first training failed, which the training's own retry
    # takes up): nothing to forecast from, and nothing a forecast retry could change.
    without_model: list[str] = []
    # As demand_models did in this run: its forecasts came from the champion it already has.
    tenants, current = tenants_to_work_on(
        current_window(context.run.tags), engine, list(context.partition_keys)
    )
    if current:
        context.log.info(
            f"{len(current)} tenant(s) forecast by their latest model already, skipped"
        )
    rows: dict[UUID, list[Row]] = {}
    clock = time.perf_counter()
    for tenant in tenants:
        try:
            tenant_id = UUID(tenant)
            with engine.connect() as conn:
                metric_forecasts = forecast_tenant(registry, conn, tenant_id, horizon)
            if not metric_forecasts:
                without_model.append(tenant)
                continue
            rows[tenant_id] = [r for f in metric_forecasts for r in forecast_rows(tenant_id, f)]
            written[tenant] = {"rows": len(rows[tenant_id])}
            for f in metric_forecasts:
                written[tenant][f"{f.metric}/model_version"] = f.model_version
                written[tenant][f"{f.metric}/from"] = str(f.frame["date"].iloc[0])
                written[tenant][f"{f.metric}/next_7_p50"] = dg.MetadataValue.json(
                    [round(float(v), 2) for v in f.frame["p50"].iloc[:7]]
                )
        except Exception as exc:  # noqa: BLE001 - the tenant keeps its previous forecast
            failed[tenant] = f"{type(exc).__name__}: {exc}"
            context.log.error(f"{tenant}: forecast failed: {failed[tenant]}")
    if failed and not written:
        raise dg.Failure(f"every tenant of the run failed to forecast: {failed}")
    forecast_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    write_forecasts(engine, rows)
    write_seconds = time.perf_counter() - clock
    if without_model:
        context.log.info(f"{len(without_model)} tenant(s) without a champion model, skipped")
    # Each tenant's forecast on its own partition; the run's metadata below goes on every one.
    for tenant, metadata in written.items():
        context.add_asset_metadata(metadata, partition_key=tenant)
    return dg.MaterializeResult(
        metadata={
            "tenants": len(context.partition_keys),
            "tenants_forecast": len(written),
            TENANTS_CURRENT: dg.MetadataValue.json(current),
            "rows": sum(int(w["rows"]) for w in written.values()),
            # Loading each champion from MLflow and predicting, then the one transaction.
            "forecast_seconds": round(forecast_seconds, 2),
            "write_seconds": round(write_seconds, 2),
            TENANTS_FAILED: dg.MetadataValue.json(failed),
            TENANTS_WITHOUT_MODEL: dg.MetadataValue.json(without_model),
        }
    )
