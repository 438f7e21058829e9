"""The daily checks find the tenants the nightly has left behind, and let go of them once served."""

from __future__ import annotations

import datetime as dt
import io
from uuid import UUID

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from flux_core.db.tables import model_versions, uploads
from flux_core.forecasts.writer import MetricForecast, replace_forecasts
from flux_core.ingest.loader import load_upload
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings
from flux_core.training.registry import record_model_version
from flux_pipelines.defs.forecasts.checks import forecasts_current
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.training.checks import champions_current

TWO_DAYS_AGO = sa.func.now() - sa.text("interval '2 days'")


def _overdue(result: dg.AssetCheckResult) -> set[tuple[str, str]]:
    return {(row["tenant"], row["metric"]) for row in result.metadata["overdue"].value}


def _load_sales(settings: FluxSettings, engine: sa.Engine, tenant: UUID, *, aged: bool) -> None:
    """Two days of sales, uploaded now or (``aged``) two days ago and loaded now."""
    zone = landing_zone(settings)
    body = io.BytesIO(b"date,sales\n2025-05-01,5\n2025-05-02,6\n")
    with engine.begin() as conn:
        upload_id = receive_upload(conn, zone, tenant, "s.csv", body).upload_id
    load_upload(engine, zone, upload_id)
    if not aged:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.update(uploads).where(uploads.c.tenant_id == tenant).values(received_at=TWO_DAYS_AGO)
        )


def _champion(engine: sa.Engine, tenant: UUID, version: int, *, days_ago: int) -> None:
    record_model_version(
        engine,
        tenant_id=tenant,
        metric="sales",
        version=version,
        model_name=f"flux-{tenant}-sales",
        model_kind="seasonal_naive",
        backtest={},
        mlflow_run_id=None,
    )
    with engine.begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.tenant_id == tenant, model_versions.c.version == version)
            .values(trained_at=sa.func.now() - dt.timedelta(days=days_ago))
        )


def test_a_tenant_left_with_an_old_champion_or_none_is_overdue_until_retrained(
    settings: FluxSettings, pipeline_engine: sa.Engine, make_tenant
) -> None:
    never, stale, fresh = make_tenant(), make_tenant(), make_tenant()
    for tenant in (never, stale, fresh):
        _load_sales(settings, pipeline_engine, tenant, aged=True)
    _champion(pipeline_engine, stale, 1, days_ago=3)
    _champion(pipeline_engine, fresh, 1, days_ago=3)
    _champion(pipeline_engine, fresh, 2, days_ago=0)
    just_uploaded = make_tenant()  # sales from a moment ago: its first run has not come yet
    _load_sales(settings, pipeline_engine, just_uploaded, aged=False)

    result = champions_current(database=FluxDatabase())
    assert not result.passed
    overdue = _overdue(result)
    assert {(str(never), "sales"), (str(stale), "sales")} <= overdue
    assert (str(fresh), "sales") not in overdue
    assert (str(just_uploaded), "sales") not in overdue

    _champion(pipeline_engine, stale, 2, days_ago=0)
    assert (str(stale), "sales") not in _overdue(champions_current(database=FluxDatabase()))


def test_forecasts_not_replaced_for_a_day_and_a_half_are_overdue(
    pipeline_engine: sa.Engine, make_tenant
) -> None:
    tenant = make_tenant()
    _champion(pipeline_engine, tenant, 1, days_ago=3)
    result = forecasts_current(database=FluxDatabase())
    assert not result.passed
    assert (str(tenant), "sales") in _overdue(result)

    frame = pd.DataFrame(
        {"date": pd.date_range("2026-01-01", periods=3), "p10": 1.0, "p50": 2.0, "p90": 3.0}
    )
    replace_forecasts(pipeline_engine, tenant, [MetricForecast("sales", 1, frame)])
    assert (str(tenant), "sales") not in _overdue(forecasts_current(database=FluxDatabase()))


def test_the_daily_job_runs_both_checks_and_records_their_results() -> None:
    from flux_pipelines.definitions import defs

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("model_health").execute_in_process(instance=instance)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {"champions_current", "forecasts_current"}
    for evaluation in evaluations:
        assert set(evaluation.metadata) == {"series_checked", "series_overdue", "overdue"}
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
