"""``demand_models``: every tenant-metric of the run trained in ONE backend job, then registered."""

import datetime as dt
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import dagster as dg

from flux_core.training.features import read_drivers_frame, read_training_frame
from flux_core.training.freshness import tenants_to_work_on
from flux_core.training.planning import BatchPlan, plan_batch
from flux_core.training.registry import ModelRegistry
from flux_pipelines.defs.batches import (
    TENANTS_CURRENT,
    TENANTS_FAILED,
    TENANTS_WITHOUT_DATA,
    current_window,
)
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.tenants import tenants_partitions
from flux_pipelines.defs.training.resources import TrainingBackendResource


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _summary(result: dict[str, Any], version: int) -> dict[str, Any]:
    """One tenant-metric's backtest accuracy."""
    backtest = result["backtest"]
    return {
        "champion": result["champion"],
        "mode": result.get("mode", "select"),
        "reason": (backtest.get("selection") or {}).get("reason", ""),
        "challenger": backtest.get("challenger"),
        "version": version,
        **{name: _rounded(value) for name, value in backtest.get("accuracy", {}).items()},
        "windows": backtest.get("windows"),
        "closed_weekdays": backtest.get("closed_weekdays"),
        "failed_candidates": backtest.get("failed_candidates"),
        "seconds": result["seconds"],
    }


def partition_metadata(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A tenant's own materialization metadata: per metric, the champion and its backtest
    accuracy as numbers (``sales/wape``), which the UI lists and plots across the tenant's
    materializations."""
    out: dict[str, Any] = {}
    for metric, s in sorted(metrics.items()):
        out[f"{metric}/champion"] = f"{s['champion']} v{s['version']}"
        out[f"{metric}/mode"] = f"{s['mode']}: {s['reason']}" if s["reason"] else s["mode"]
        out[f"{metric}/challenger"] = str(s.get("challenger"))
        for name, value in s.items():
            if isinstance(value, int | float) and name not in ("version", "seconds"):
                out[f"{metric}/{name}"] = value
        out[f"{metric}/backtest"] = dg.MetadataValue.json(
            {k: s.get(k) for k in ("windows", "closed_weekdays", "failed_candidates")}
        )
    return out


def accuracy_table(trained: dict[str, dict[str, Any]]) -> str:
    """Markdown: a row per tenant-metric with the champion's backtest accuracy."""
    lines = [
        "| tenant | metric | champion | WAPE | baseline WAPE | MASE | RMSLE | bias | P10-P90 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else "–"

    for tenant, metrics in sorted(trained.items()):
        for metric, s in sorted(metrics.items()):
            lines.append(
                f"| {tenant} | {metric} | {s['champion']} v{s['version']} | {cell(s.get('wape'))} "
                f"| {cell(s.get('baseline_wape'))} | {cell(s.get('mase'))} "
                f"| {cell(s.get('rmsle'))} | {cell(s.get('bias'))} "
                f"| {cell(s.get('coverage_p10_p90'))} |"
            )
    return "\n".join(lines)


@dg.asset(
    partitions_def=tenants_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=100),
    deps=[dg.AssetKey("features_daily"), dg.AssetKey("fct_demand_drivers")],
    group_name="training",
    kinds={"python", "mlflow", "xgboost"},
    description="Per tenant and metric, its champion refitted on the latest data, or reselected "
    "when there is a reason (no champion, corrected days, live accuracy worse than promised, a "
    "week old): seasonal naive, weekday median, Prophet, XGBoost and one global XGBoost across "
    "the run's tenants, backtested on the same rolling-origin windows (WAPE, MASE, RMSLE, bias, "
    "P10-P90 coverage); the most accurate one that beats the baseline (else the baseline) is "
    "registered in MLflow as @champion and recorded in flux.model_versions.",
)
def demand_models(
    context: dg.AssetExecutionContext,
    database: FluxDatabase,
    training_backend: TrainingBackendResource,
) -> dg.MaterializeResult:
    settings, engine = database.settings, database.engine()
    # A nightly run passes over the tenants an upload run has just trained on their latest data.
    tenants, current = tenants_to_work_on(
        current_window(context.run.tags), engine, list(context.partition_keys)
    )
    if current:
        context.log.info(f"{len(current)} tenant(s) trained on their latest data already, skipped")
    with engine.connect() as conn:
        data = read_training_frame(conn, [UUID(t) for t in tenants])
        drivers = read_drivers_frame(conn, [UUID(t) for t in tenants])
        plan = (
            plan_batch(conn, data, drivers, dt.datetime.now(dt.UTC).date())
            if not data.empty
            else BatchPlan({})
        )
    present = set(data["tenant_id"])
    # A tenant with no sales yet has nothing to train on: not a failure, and not worth a retry
    # (its first upload starts a run of its own).
    without_data = sorted(t for t in tenants if t not in present)
    if without_data:
        context.log.info(f"{len(without_data)} tenant(s) without rows in features_daily, skipped")
    kept = plan.of("keep")
    reselected = {f"{t} {m}": p.reason for (t, m), p in sorted(plan.of("select").items())}
    context.log.info(
        f"{len(plan.of('refit'))} series to refit, {len(reselected)} to reselect, {len(kept)} "
        f"kept (no new day); reselected because: {dict(Counter(reselected.values()))}"
    )
    train_data = plan.training_frame(data)
    failed: dict[str, dict[str, str]] = {}
    trained: dict[str, dict[str, Any]] = defaultdict(dict)
    seconds = {"training_seconds": 0.0, "registration_seconds": 0.0}
    if not train_data.empty:
        hyperparameters = {
            "horizon": settings.forecast_horizon_days,
            "backtest_windows": settings.backtest_windows,
            "seed": 42,
            "workers": 0,
        }
        with tempfile.TemporaryDirectory(prefix="flux-training-") as workdir:
            clock = time.perf_counter()
            job = training_backend.backend().train(
                train_data,
                hyperparameters,
                job_name=f"flux-demand-{context.run_id[:8]}",
                workdir=Path(workdir),
                drivers=drivers,
                plans=plan.to_train(),
            )
            context.log.info(f"training job {job.job_name}: {job.seconds:.1f}s\n{job.log_tail}")
            seconds["training_seconds"] = time.perf_counter() - clock
            clock = time.perf_counter()
            registry = ModelRegistry(settings)

            # A refit registers only its model file and a version (registry.register_refit).
            # Threads did not help: a registration is Python (MLflow's ORM) under the GIL, 0.13 s
            # each in 8 threads against 0.12 s one at a time.
            for result in job.results:
                tenant, metric = result["tenant_id"], result["metric"]
                try:
                    if result["status"] != "succeeded":
                        raise RuntimeError(result.get("error", "training failed"))
                    registered = registry.register_result(engine, result, job.model_path(result))
                    trained[tenant][metric] = _summary(result, registered.version)
                except Exception as exc:  # noqa: BLE001 - one tenant's failure must not stop the batch
                    failed.setdefault(tenant, {})[metric] = f"{type(exc).__name__}: {exc}"
                    context.log.error(f"{tenant} {metric}: {failed[tenant][metric]}")
            seconds["registration_seconds"] = time.perf_counter() - clock
    if failed and not trained:
        raise dg.Failure(f"every tenant of the run failed to train: {failed}")
    if trained:
        context.log.info(f"backtest accuracy of the champions:\n{accuracy_table(trained)}")
    # Each tenant's accuracy goes on its own partition's materialization. What is returned below
    # is copied onto every partition of the run, so it stays small: counts, and the tenants the
    # retry sensor must read.
    for tenant, metrics in trained.items():
        context.add_asset_metadata(partition_metadata(metrics), partition_key=tenant)
    return dg.MaterializeResult(
        metadata={
            "tenants": len(context.partition_keys),
            "tenants_trained": len(trained),
            "series_refitted": sum(
                s["mode"] == "refit" for metrics in trained.values() for s in metrics.values()
            ),
            "series_reselected": sum(
                s["mode"] == "select" for metrics in trained.values() for s in metrics.values()
            ),
            "series_kept": len(kept),
            **{name: round(value, 2) for name, value in seconds.items()},
            "reselected": dg.MetadataValue.json(reselected),
            TENANTS_CURRENT: dg.MetadataValue.json(current),
            TENANTS_FAILED: dg.MetadataValue.json(failed),
            TENANTS_WITHOUT_DATA: dg.MetadataValue.json(without_data),
        }
    )
