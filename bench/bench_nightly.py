"""The daily cycle at scale: refit nightly, reselect when it matters (``BENCH=nightly``).

Synthetic restaurants with two years of sales each, through the real path: CSV uploads into the
landing zone, ``ingest_to_forecast`` runs of 100 tenants launched as the daemon launches them (a
process per run, ``dagster job execute``, ``FLUX_DAGSTER_MAX_CONCURRENT_RUNS`` at a time), then
the nightly schedule evaluated and its ``retrain_and_forecast`` runs launched the same way. Three
nights:

1. **first**: every restaurant new; its upload run selects every champion (the full tournament).
2. **steady**: a day later (the champions aged by 24 hours), every restaurant uploads one new day;
   its upload run refits the champion, and a seventh reselect (their weekday). Then the 02:00
   nightly, which finds every tenant trained on its latest upload.
3. **quiet**: another day later, no uploads: the nightly's runs keep every champion and move the
   forecasts on.

Then **today's design** on a sample of the same restaurants: one more day uploaded, with every
champion's selection forgotten, so that the upload runs run the full tournament, as every night
did before; its time per restaurant against the steady night's is the ratio.

For each: wall time, CPU time (the machine's, /proc/stat), peak memory of the process tree, and
the split between dbt, training, MLflow registration, forecasting (each champion loaded and
predicted), the forecasts' write, and Dagster (the rest of each run: process start, loading the
code, events, the ingest step).

Accuracy: Recruit's 829 stores with the last 39 days held out; a selection made 7 days before the
held-out days and refitted at their start, against a selection made at their start.

Environment: ``FLUX_BENCH_NIGHTLY`` (restaurants; default 1000), ``FLUX_BENCH_BASELINE``
(today's design's sample; default 200), ``FLUX_BENCH_NIGHTLY_PARTS`` (``nights,accuracy``).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from bench.bench_forecast import (
    HOLDOUT_DAYS,
    OUT,
    SEED,
    PeakMemory,
    _machine_busy,
    age_champions,
    flux_forecast,
    flux_models,
    recruit_bookings,
    recruit_jobs,
    recruit_visits,
    scheduled_nightly,
    scored,
    split,
    summary,
    synthetic_restaurants,
    upload_restaurants,
)
from bench.scratch import scratch_settings
from flux_core.db.connections import get_engine
from flux_core.db.tables import model_versions, uploads
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import FluxSettings
from flux_core.training.selection import refit_plan
from flux_core.training.train import SeriesJob, TrainingConfig
from flux_pipelines.defs.batches import TenantBatch, batches
from flux_pipelines.defs.tenants import TENANTS
from flux_pipelines.instance import dagster_environment, dagster_instance

DATABASE = "flux_bench_nightly"
RUN_LOGS = OUT / "nightly-runs"
STEADY_GOAL_SECONDS, QUIET_GOAL_SECONDS = 30 * 60, 10 * 60
_TICKS = os.sysconf("SC_CLK_TCK")
NIGHT_TAG = "flux/bench-night"
# Step keys of the runs' assets, by what the figures split them into.
PARTS = {"flux_dbt_models": "dbt", "demand_models": "models", "demand_forecasts": "forecasts"}


def launch(
    settings: FluxSettings, job: str, runs: Sequence[dict[str, str]], night: str
) -> tuple[float, int, float]:
    """``job`` once per tags of ``runs``, as the daemon launches runs: a process each, as many at
    a time as the run coordinator allows. Returns the wall seconds, the failed runs and the
    seconds the processes took together."""
    env = {**os.environ, **dagster_environment(settings)}
    command = [str(Path(sys.executable).with_name("dagster")), "job", "execute"]
    command += ["-m", "flux_pipelines.definitions", "-j", job, "--tags"]
    at_once = settings.dagster_max_concurrent_runs
    pending, failed, process_seconds = list(enumerate(runs)), 0, 0.0
    running: list[tuple[subprocess.Popen[bytes], float]] = []
    started = time.perf_counter()
    RUN_LOGS.mkdir(parents=True, exist_ok=True)
    while pending or running:
        while pending and len(running) < at_once:
            index, tags = pending.pop(0)
            with (RUN_LOGS / f"{night}-{index}.log").open("wb") as log:
                tagged = json.dumps({**tags, NIGHT_TAG: night})
                process = subprocess.Popen([*command, tagged], env=env, stdout=log, stderr=log)
                running.append((process, time.perf_counter()))
        time.sleep(0.5)
        for entry in [e for e in running if e[0].poll() is not None]:
            running.remove(entry)
            failed += entry[0].returncode != 0
            process_seconds += time.perf_counter() - entry[1]
    return time.perf_counter() - started, failed, process_seconds


def upload_runs(settings: FluxSettings, tenant_ids: Sequence[str] | None = None) -> list[dict]:
    """The upload runs the sensor would start: the tenants with an upload waiting, 100 a run."""
    instance = dagster_instance(settings)
    with get_engine("pipeline", settings).connect() as conn:
        query = sa.select(uploads.c.tenant_id).where(uploads.c.status == "received").distinct()
        waiting = {str(t) for t in conn.execute(query).scalars()}
    if tenant_ids is not None:
        waiting &= set(tenant_ids)
    keys = list(instance.get_dynamic_partitions(TENANTS))
    if missing := sorted(waiting - set(keys)):
        instance.add_dynamic_partitions(TENANTS, missing)
        keys = list(instance.get_dynamic_partitions(TENANTS))
    return [TenantBatch(a, b, "upload").tags() for a, b in batches(keys, waiting)]


def one_more_day(settings: FluxSettings, jobs: list[SeriesJob], ids: list[str], day: int) -> None:
    """Each restaurant uploads the ``day``-th day after its history (its usual level, by weekday)."""
    zone = landing_zone(settings)
    with get_engine("pipeline", settings).begin() as conn:
        for tenant_id, job in zip(ids, jobs, strict=True):
            history = job.history
            date = pd.Timestamp(history["date"].max()) + pd.Timedelta(days=day)
            weekdays = pd.to_datetime(history["date"]).dt.day_of_week
            same_weekday = history[weekdays == date.day_of_week]
            value = float(same_weekday["value"].tail(4).median()) if len(same_weekday) else 1.0
            csv = f"date,sales\n{date.date()},{value:.2f}\n".encode()
            receive_upload(conn, zone, uuid.UUID(tenant_id), f"day-{day}.csv", io.BytesIO(csv))


def split_of(settings: FluxSettings, night: str) -> dict[str, float]:
    """Seconds by part over the night's runs (from their steps and their metadata)."""
    import dagster as dg

    instance = dagster_instance(settings)
    records = instance.get_run_records(dg.RunsFilter(tags={NIGHT_TAG: night}))
    parts: dict[str, float] = defaultdict(float)
    for record in records:
        run = record.dagster_run
        if record.start_time and record.end_time:
            parts["runs"] += record.end_time - record.start_time
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                parts[PARTS.get(step.step_key, "other steps")] += step.end_time - step.start_time
        events = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        for name in ("demand_models", "demand_forecasts"):
            # The run's own figures are on each of its partitions' materializations: one will do.
            for event in events:
                materialization = event.event_log_entry.asset_materialization
                if materialization is None or materialization.asset_key.path != [name]:
                    continue
                meta = materialization.metadata
                for key in (
                    "training_seconds",
                    "registration_seconds",
                    "forecast_seconds",
                    "write_seconds",
                ):
                    if key in meta:
                        parts[key] += float(meta[key].value)
                for key in ("series_refitted", "series_reselected", "series_kept"):
                    if key in meta:
                        parts[key] += float(meta[key].value)
                break
    return dict(parts)


def report(
    label: str, count: int, wall: float, cpu: float, peak: float, parts: dict[str, float]
) -> dict[str, Any]:
    models, forecasts, dbt = (parts.get(k, 0.0) for k in ("models", "forecasts", "dbt"))
    split = {
        "dbt": parts.get("dbt", 0.0),
        "training": parts.get("training_seconds", 0.0),
        "MLflow": parts.get("registration_seconds", 0.0),
        "planning and the rest of demand_models": models
        - parts.get("training_seconds", 0.0)
        - parts.get("registration_seconds", 0.0),
        "forecasting (MLflow loads, predict)": parts.get("forecast_seconds", 0.0),
        "writes": parts.get("write_seconds", 0.0),
        "Dagster (process, code, events, ingest)": max(
            0.0, parts.get("process_seconds", 0.0) - dbt - models - forecasts
        ),
    }
    total = sum(split.values()) or 1.0
    print(
        f"{label}: {count} restaurants, wall {wall:.0f} s ({wall / 60:.1f} min), CPU {cpu:.0f} s, "
        f"peak memory {peak:.2f} GiB; series refitted {parts.get('series_refitted', 0):.0f}, "
        f"reselected {parts.get('series_reselected', 0):.0f}, kept {parts.get('series_kept', 0):.0f}",
        flush=True,
    )
    print(
        "  run-seconds by part: "
        + ", ".join(f"{name} {value:.0f} s ({value / total:.0%})" for name, value in split.items()),
        flush=True,
    )
    return {
        "night": label,
        "restaurants": count,
        "wall": wall,
        "cpu": cpu,
        "peak_gib": peak,
        **split,
    }


def night(
    settings: FluxSettings, label: str, count: int, steps: Sequence[tuple[str, list[dict]]]
) -> dict[str, Any]:
    """The runs of ``steps`` (job, runs' tags) one after the other, measured together."""
    busy = _machine_busy()[0]
    wall = processes = 0.0
    with PeakMemory() as memory:
        for job, runs in steps:
            seconds, failed, spent = launch(settings, job, runs, label)
            wall, processes = wall + seconds, processes + spent
            print(
                f"  {label}: {job}, {len(runs)} runs in {seconds:.0f} s, {failed} failed",
                flush=True,
            )
    cpu = (_machine_busy()[0] - busy) / _TICKS
    parts = split_of(settings, label)
    parts["process_seconds"] = processes
    return report(label, count, wall, cpu, memory.gib, parts)


def forget_selections(settings: FluxSettings, tenant_ids: Sequence[str]) -> None:
    """Today's design, for these tenants: their champions' selections unknown, so that the next
    training runs the full tournament (as every night did before refits)."""
    with get_engine("pipeline", settings).begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.tenant_id.in_([uuid.UUID(t) for t in tenant_ids]))
            .values(backtest=model_versions.c.backtest - "history")
        )


def nights() -> None:
    count = int(os.environ.get("FLUX_BENCH_NIGHTLY", "1000"))
    sample = min(count, int(os.environ.get("FLUX_BENCH_BASELINE", "200")))
    settings = scratch_settings(DATABASE, home=OUT / "nightly-home")
    jobs = synthetic_restaurants(count)
    ids = upload_restaurants(settings, jobs)
    print(f"nightly: {count} restaurants uploaded (two years each), 100 a run", flush=True)
    first = night(settings, "first night", count, [("ingest_to_forecast", upload_runs(settings))])

    # A day later: every restaurant uploads its day, and the 02:00 nightly comes after.
    age_champions(settings, ids, hours=24)
    one_more_day(settings, jobs, ids, 1)
    steady_steps = [("ingest_to_forecast", upload_runs(settings))]
    steady = night(settings, "steady night", count, steady_steps)
    runs, left_out = scheduled_nightly(settings)
    print(
        f"  the 02:00 nightly after it: {left_out} of {count} left out, {len(runs)} runs",
        flush=True,
    )
    if runs:
        after = night(settings, "steady 02:00", count, [("retrain_and_forecast", runs)])
        for key in ("wall", "cpu"):
            steady[key] += after[key]
        steady["peak_gib"] = max(steady["peak_gib"], after["peak_gib"])

    # Another day later, no uploads.
    age_champions(settings, ids, hours=24)
    runs, left_out = scheduled_nightly(settings)
    print(f"  quiet night: the nightly asks for {count - left_out} tenants", flush=True)
    quiet = night(settings, "quiet night", count - left_out, [("retrain_and_forecast", runs)])

    # Today's design on a sample: the same upload of one more day, every selection forgotten.
    # Contiguous in the partitions' order, so that they fill runs of 100 as the others did.
    chosen = list(dagster_instance(settings).get_dynamic_partitions(TENANTS))[:sample]
    age_champions(settings, chosen, hours=24)
    forget_selections(settings, chosen)
    by_id = dict(zip(ids, jobs, strict=True))
    one_more_day(settings, [by_id[t] for t in chosen], chosen, 2)
    baseline_steps = [("ingest_to_forecast", upload_runs(settings, chosen))]
    baseline = night(settings, "today's design (tournament)", sample, baseline_steps)
    results = [first, steady, quiet, baseline]

    steady_each, baseline_each = steady["wall"] / count, baseline["wall"] / sample
    print(
        f"\nsteady night per restaurant: {steady_each:.3f} s against today's design "
        f"{baseline_each:.3f} s: {steady_each / baseline_each:.2f} of its time "
        f"(CPU {steady['cpu'] / count:.3f} against {baseline['cpu'] / sample:.3f} s each)"
    )
    for label, measured, goal in (
        ("steady", steady, STEADY_GOAL_SECONDS),
        ("quiet", quiet, QUIET_GOAL_SECONDS),
    ):
        measured_count = int(measured["restaurants"])
        wall = measured["wall"] * (10_000 / measured_count)
        print(
            f"{label} night at 10,000 restaurants: {wall / 60:.1f} min"
            f"{f' (extrapolated linearly from {measured_count})' if measured_count < 10_000 else ''}; "
            f"goal <= {goal / 60:.0f} min: {'met' if wall <= goal else 'NOT met'}"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(results).to_csv(OUT / "nightly.csv", index=False)
    plot(pd.DataFrame(results), OUT / "nightly.png")


def plot(results: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [
        c for c in results.columns if c not in ("night", "restaurants", "wall", "cpu", "peak_gib")
    ]
    per = results[parts].div(results["restaurants"], axis=0)
    ax = per.plot.barh(stacked=True, figsize=(10, 4))
    ax.set_yticklabels(results["night"])
    ax.set_xlabel("run-seconds per restaurant")
    ax.set_title("A night's work per restaurant, by part")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    plt.tight_layout()
    plt.savefig(path)
    print(f"chart: {path}")


def accuracy() -> None:
    """A selection 7 days before the held-out days, refitted at their start, against one made at
    their start: RMSLE and WAPE on Recruit's last 39 days."""
    visits, bookings = recruit_visits(), recruit_bookings()
    train, held, days = split(visits)
    config = TrainingConfig(horizon=HOLDOUT_DAYS, windows=3, seed=SEED)
    started = time.perf_counter()
    fresh, _ = flux_models(train, config, bookings)
    fresh_seconds = time.perf_counter() - started
    week_ago = train[train["date"] <= train["date"].max() - pd.Timedelta(days=7)]
    old, _ = flux_models(week_ago, config, bookings)
    jobs = recruit_jobs(train, bookings)
    plans = {
        (job.tenant_id, job.metric): refit_plan(model.kind, model.backtest, 1, None)
        for job in jobs
        if (model := old.get(job.tenant_id)) is not None and model.backtest.get("windows")
    }
    started = time.perf_counter()
    refitted, _ = flux_models(train, config, bookings, plans)
    refit_seconds = time.perf_counter() - started
    both = {
        name: scored(held, flux_forecast(models, days))
        for name, models in (
            ("selected at the start", fresh),
            ("selected 7 days earlier, refitted", refitted),
        )
    }
    # Scored on the same rows: the stores both have a model for (a store too new for one, or
    # whose training failed, has none in either).
    common = pd.concat([f["p50"].notna() for f in both.values()], axis=1).all(axis=1)
    rows = [summary(name, frame[common]) for name, frame in both.items()]
    print(f"scored rows: {int(common.sum())} of {len(held)}")
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    ratio = rows[1]["rmsle"] / rows[0]["rmsle"]
    print(
        f"recruit: the refitted selection's RMSLE is {ratio:.4f} of the fresh one's "
        f"(goal within 1%: {'met' if abs(ratio - 1) <= 0.01 else 'NOT met'}); "
        f"{len(plans)} of {len(jobs)} stores refitted, the others selected; "
        f"refit {refit_seconds:.0f} s against a full selection's {fresh_seconds:.0f} s "
        f"({refit_seconds / fresh_seconds:.2f})"
    )


def main() -> None:
    parts = os.environ.get("FLUX_BENCH_NIGHTLY_PARTS", "accuracy,nights").split(",")
    if "accuracy" in parts:
        accuracy()
    if "nights" in parts:
        nights()
