"""Forecast accuracy on real restaurants (Recruit, 829 stores) and training time at scale.

Accuracy: hold out the last 39 days of ``recruit/air_visit_data.csv``, train Flux on the rest
(every candidate backtested on 3 rolling windows of 39 days, one global model across the 829
stores, the per-store champion refitted), forecast the 39 days, and score RMSLE and WAPE on the
held-out rows beside, in the same run, the weekly seasonal naive, the per-store weekday median,
Prophet with defaults per store and statsforecast's AutoETS. Closed days are absent rows in this
data, so only rows present are scored (as on Kaggle).

Time: the 829 stores' full retrain + backtest + forecast, then synthetic restaurants with two
years of history in batches of 100 (as the nightly runs take them), one batch after another;
the first batch's models are then registered as ``demand_models`` registers them. Last, the
nightly as configured: two runs at a time (dagster.yaml), each training a batch and registering
its models. Peak memory of the process tree is sampled from /proc.

The parts above time the training code and the registry on their own. The ``dagster`` part runs
the real thing on a sample: synthetic restaurants uploaded as CSV files and loaded through every
asset of ``ingest_to_forecast`` (staged_sales, the dbt models, demand_models, demand_forecasts) as
``flux run`` runs it; then what the nightly schedule would ask for at that moment (nothing: the
upload runs have just trained every tenant on its latest data); then the nightly of a night when
every other restaurant did not upload (its champion made a day earlier), the runs the schedule
asks for; then the nightly job ``retrain_and_forecast`` over every tenant, as on a night without
uploads. Runs are launched as the daemon launches them, a process per run of up to 100 tenants
(``dagster job execute``), two at a time. What the full nightly costs
beyond training and registration (starting runs, Dagster's events, loading each champion from
MLflow, writing the forecasts) is its figure less theirs.

Environment: ``FLUX_BENCH_PARTS`` (``accuracy,synthetic,nightly,dagster``; default all four),
``FLUX_BENCH_SYNTHETIC`` (restaurants to time in ``synthetic`` and ``nightly``; default 1000,
extrapolated to 10,000), ``FLUX_BENCH_DAGSTER`` (restaurants in the ``dagster`` part; default
200), ``FLUX_BENCH_WINDOWS`` (their backtest windows; default 3, as
``settings.backtest_windows``).
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench.scratch import scratch_settings
from flux_core.db.connections import get_engine
from flux_core.db.tables import model_versions, tenants
from flux_core.ingest.uploads import receive_upload
from flux_core.landing import landing_zone
from flux_core.settings import PROJECT_ROOT, FluxSettings, get_settings
from flux_core.training.batch import SeriesFailure, train_series
from flux_core.training.drivers import Drivers
from flux_core.training.entrypoint import outcome_entry
from flux_core.training.metrics import coverage, rmsle, wape
from flux_core.training.model import DemandModel
from flux_core.training.registry import ModelRegistry
from flux_core.training.selection import SeriesPlan
from flux_core.training.train import SeriesJob, TrainingConfig
from flux_pipelines.defs.batches import TenantBatch
from flux_pipelines.defs.batches import batches as job_batches
from flux_pipelines.defs.tenants import TENANTS, run_tenants
from flux_pipelines.instance import dagster_environment, dagster_instance
from flux_pipelines.runner import run_graph

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = PROJECT_ROOT / ".flux" / "bench"
HOLDOUT_DAYS = 39
SEED = 42
BATCH = 100  # tenants per nightly run (max_partitions_per_run)
GOAL_829_SECONDS = 300
GOAL_10K_SECONDS = 1800
DATABASE = "flux_bench_forecast"
RUN_LOGS = OUT / "dagster-runs"  # the launched nightly runs' output
# The nightly's runs at a time: the instance's run coordinator (dagster.yaml reads the setting).
NIGHTLY_RUNS = FluxSettings().dagster_max_concurrent_runs


# --- memory ------------------------------------------------------------------------------


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and its descendants (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            rss[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[21]) * os.sysconf(
                "SC_PAGE_SIZE"
            )
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


class PeakMemory:
    """Samples the process tree's resident memory every half second."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(os.getpid()))
            self._stop.wait(0.5)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def gib(self) -> float:
        return self.peak / 2**30


# --- data --------------------------------------------------------------------------------


def recruit_visits() -> pd.DataFrame:
    visits = pd.read_csv(DATA / "recruit" / "air_visit_data.csv", parse_dates=["visit_date"])
    return visits.rename(
        columns={"air_store_id": "store", "visit_date": "date", "visitors": "value"}
    )


def split(
    visits: pd.DataFrame, before: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DatetimeIndex]:
    """Train on the days before a holdout of ``HOLDOUT_DAYS`` that ends ``before`` days before the
    data's last day (0: the last days; 39: the window before them)."""
    last = visits["date"].max() - pd.Timedelta(days=before)
    first_held = last - pd.Timedelta(days=HOLDOUT_DAYS - 1)
    days = pd.date_range(first_held, last, freq="D")
    held = visits[(visits["date"] >= first_held) & (visits["date"] <= last)]
    return visits[visits["date"] < first_held], held, days


def recruit_bookings() -> dict[str, Drivers]:
    """Each store's bookings as its booking system exported them (air_reserve.csv): the day of
    the visit, the day the booking was made, the party size. Training reads, at each origin,
    only what was booked by then (``BookingIndex.booked_by``), so the whole file can be given."""
    reserve = pd.read_csv(
        DATA / "recruit" / "air_reserve.csv", parse_dates=["visit_datetime", "reserve_datetime"]
    )
    frame = pd.DataFrame(
        {
            "store": reserve["air_store_id"],
            "visit_date": reserve["visit_datetime"].dt.normalize(),
            "booked_on": reserve["reserve_datetime"].dt.normalize(),
            "covers": reserve["reserve_visitors"].astype("float64"),
        }
    )
    summed = frame.groupby(["store", "visit_date", "booked_on"], as_index=False)["covers"].sum()
    return {
        str(store): Drivers(rows.drop(columns="store").reset_index(drop=True))
        for store, rows in summed.groupby("store")
    }


def synthetic_restaurants(count: int, days: int = 730, seed: int = 7) -> list[SeriesJob]:
    """Weekly and yearly seasonality, trend, noise, a closed weekday for a third, closures."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end="2025-12-31", periods=days, freq="D")
    weekday = np.asarray(dates.day_of_week)
    season = np.cos(2 * np.pi * (np.asarray(dates.day_of_year) - 196) / 365.25)
    jobs = []
    for i in range(count):
        weekly = rng.uniform(0.7, 1.5, 7)
        if i % 3 == 0:
            weekly[rng.integers(0, 7)] = 0.0
        level = rng.lognormal(5, 1)
        trend = 1 + rng.normal(0, 0.1) * np.arange(days) / 365
        values = level * weekly[weekday] * (1 + rng.uniform(0, 0.3) * season) * trend
        values = values * rng.lognormal(0, 0.15, days)
        values[values == 0] = np.nan  # closed days have no row
        gap = int(rng.integers(30, days - 60))
        values[gap : gap + int(rng.integers(0, 10))] = np.nan
        history = pd.DataFrame({"date": dates, "value": np.round(values, 2)})
        jobs.append(SeriesJob(f"synthetic-{i:05d}", "sales", "US", history.dropna()))
    return jobs


# --- peers -------------------------------------------------------------------------------


def seasonal_naive(train: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    last = train.assign(wd=train["date"].dt.day_of_week).sort_values("date")
    by_wd = last.groupby(["store", "wd"])["value"].last()
    return _weekday_table(by_wd, train, days)


def weekday_median(
    train: pd.DataFrame, days: pd.DatetimeIndex, weeks: int | None = None
) -> pd.DataFrame:
    """Each store's median of the same weekday: over all its history, or its last ``weeks`` of
    days (counted back from its own last day: a store closed for the last weeks keeps a rule)."""
    if weeks is not None:
        last = train.groupby("store")["date"].transform("max")
        train = train[train["date"] > last - pd.Timedelta(weeks=weeks)]
    by_wd = train.assign(wd=train["date"].dt.day_of_week).groupby(["store", "wd"])["value"]
    return _weekday_table(by_wd.median(), train, days)


def _weekday_table(by_wd: pd.Series, train: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    stores = sorted(train["store"].unique())
    grid = pd.MultiIndex.from_product([stores, days], names=["store", "date"]).to_frame(index=False)
    grid["wd"] = grid["date"].dt.day_of_week
    out = grid.join(by_wd.rename("p50"), on=["store", "wd"])
    fallback = train.groupby("store")["value"].median()
    out["p50"] = out["p50"].fillna(out["store"].map(fallback))
    return out[["store", "date", "p50"]]


def _prophet_one(args: tuple[str, pd.DataFrame, pd.DatetimeIndex]) -> pd.DataFrame:
    import logging

    from cmdstanpy.utils import get_logger
    from prophet import Prophet

    get_logger().setLevel(logging.WARNING)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    store, rows, days = args
    model = Prophet(uncertainty_samples=0)
    model.fit(rows.rename(columns={"date": "ds", "value": "y"})[["ds", "y"]])
    predicted = model.predict(pd.DataFrame({"ds": days}))["yhat"].to_numpy()
    return pd.DataFrame({"store": store, "date": days, "p50": np.clip(predicted, 0, None)})


def prophet_defaults(train: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    tasks = [(store, rows, days) for store, rows in train.groupby("store")]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        return pd.concat(pool.map(_prophet_one, tasks, chunksize=8), ignore_index=True)


def auto_ets(train: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """AutoETS (season 7) per store; it needs gap-free series, so unknown days take the store's
    weekday median (closed days would otherwise read as zeros)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    end = train["date"].max()
    frames = []
    medians = weekday_median(train, pd.date_range(train["date"].min(), end, freq="D"))
    for store, rows in train.groupby("store"):
        full = pd.date_range(rows["date"].min(), end, freq="D")
        series = rows.set_index("date")["value"].reindex(full)
        fill = medians[medians["store"] == store].set_index("date")["p50"].reindex(full)
        frames.append(
            pd.DataFrame({"unique_id": store, "ds": full, "y": series.fillna(fill).to_numpy()})
        )
    # Series too short for ETS ("tiny datasets") take statsforecast's own seasonal naive.
    model = StatsForecast(
        models=[AutoETS(season_length=7)],
        freq="D",
        n_jobs=os.cpu_count() or 1,
        fallback_model=SeasonalNaive(season_length=7),
    )
    forecast = model.forecast(df=pd.concat(frames, ignore_index=True), h=len(days))
    forecast = forecast.rename(columns={"unique_id": "store", "ds": "date", "AutoETS": "p50"})
    # statsforecast leaves NaN where a series is shorter than a season: the weekday median fills.
    filled = forecast.merge(weekday_median(train, days), on=["store", "date"], suffixes=("", "_m"))
    missing = int(filled["p50"].isna().sum())
    if missing:
        print(f"  AutoETS: {missing} NaN forecasts (series shorter than a week) -> weekday median")
    filled["p50"] = filled["p50"].fillna(filled["p50_m"]).clip(lower=0)
    return filled[["store", "date", "p50"]]


# --- Flux --------------------------------------------------------------------------------


def recruit_jobs(train: pd.DataFrame, drivers: dict[str, Drivers] | None = None) -> list[SeriesJob]:
    """One series per store, with its bookings when given."""
    drivers = drivers or {}
    return [
        SeriesJob(
            str(store),
            "visitors",
            "JP",
            rows[["date", "value"]].reset_index(drop=True),
            drivers.get(str(store)),
        )
        for store, rows in train.groupby("store")
    ]


def flux_models(
    train: pd.DataFrame,
    config: TrainingConfig,
    drivers: dict[str, Drivers] | None = None,
    plans: dict[tuple[str, str], SeriesPlan] | None = None,
) -> tuple[dict[str, DemandModel], dict[str, str]]:
    """Each store's champion (``plans``: the stores to refit rather than select), and the errors
    of the stores that failed."""
    jobs = recruit_jobs(train, drivers)
    models: dict[str, DemandModel] = {}
    failed: dict[str, str] = {}
    for job, outcome in zip(jobs, train_series(jobs, config, plans=plans), strict=True):
        if isinstance(outcome, SeriesFailure):
            failed[job.tenant_id] = outcome.error
        else:
            models[job.tenant_id] = outcome
    return models, failed


def flux_forecast(models: dict[str, DemandModel], days: pd.DatetimeIndex) -> pd.DataFrame:
    frames = []
    for store, model in models.items():
        frame = model.predict(days)
        frame["store"] = store
        frame["date"] = pd.to_datetime(frame["date"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# --- scoring and report ------------------------------------------------------------------


def scored(held: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """The held-out rows with this forecast."""
    return held.merge(forecast, on=["store", "date"], how="left")


def summary(name: str, joined: pd.DataFrame) -> dict[str, Any]:
    actual, predicted = joined["value"].to_numpy(float), joined["p50"].to_numpy(float)
    per_store = joined.groupby("store").apply(
        lambda g: rmsle(g["value"].to_numpy(float), g["p50"].to_numpy(float)),
        include_groups=False,
    )
    return {
        "method": name,
        "rmsle": rmsle(actual, predicted),
        "wape": wape(actual, predicted),
        "median_store_rmsle": float(per_store.median()),
        "missing": int(np.isnan(predicted).sum()),
    }


def plot(results: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = ["#c0392b" if m.startswith("flux") else "#7f8c8d" for m in results["method"]]
    for ax, metric in zip(axes, ("rmsle", "wape"), strict=True):
        ax.barh(results["method"], results[metric], color=colors)
        for y, value in enumerate(results[metric]):
            ax.text(value, y, f" {value:.3f}", va="center")
        ax.set_title(f"{metric.upper()} on the last {HOLDOUT_DAYS} days (lower is better)")
        ax.invert_yaxis()
    axes[0].axvline(0.50, ls="--", color="#2c3e50", lw=1)
    fig.suptitle("Recruit: 829 restaurants, Flux champions vs peers")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _live_descendants_cpu(root: int) -> float:
    """CPU time of ``root``'s live descendants and of the children they have reaped: the worker
    pools' fork server lives as long as this process, and its workers are its children, not ours.
    """
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
        except (OSError, ValueError, IndexError):
            continue
    total, frontier = 0.0, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        total += sum(used.get(p, 0.0) for p in children)
        frontier.extend(children)
    return total


def cpu_seconds() -> float:
    """CPU time of this process, its finished children (cmdstan) and its live descendants (the
    fork server and its worker pools)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return (
        own.ru_utime
        + own.ru_stime
        + children.ru_utime
        + children.ru_stime
        + _live_descendants_cpu(os.getpid())
    )


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    """Wall time, and the CPU time it took: on a machine others share, CPU / cores is what the
    same work needs on idle cores."""
    started, cpu = time.perf_counter(), cpu_seconds()
    value = fn()
    seconds, used = time.perf_counter() - started, cpu_seconds() - cpu
    cores = os.cpu_count() or 1
    print(
        f"  {label}: {seconds:.1f} s wall, {used:.0f} s CPU (= {used / cores:.0f} s on {cores} "
        f"idle cores), load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return value, seconds


WINDOWS = {
    0: "the last 39 days (held out from every choice of parameters)",
    HOLDOUT_DAYS: "the 39 days before them (the window parameters are tuned on)",
}


def accuracy() -> None:
    """Flux and its peers on two windows: each choice of parameters is made on the earlier one
    and checked on the last one, which played no part in it."""
    visits = recruit_visits()
    bookings = recruit_bookings()
    offsets = [int(o) for o in os.environ.get("FLUX_BENCH_ACCURACY_WINDOWS", "0,39").split(",")]
    for before in offsets:
        accuracy_window(visits, bookings, before)


def _rows(held: pd.DataFrame, forecasts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    results = pd.DataFrame([summary(name, scored(held, f)) for name, f in forecasts.items()])
    flux_row = results.iloc[0]
    results["flux_rmsle_ratio"] = flux_row["rmsle"] / results["rmsle"]
    results["flux_wape_ratio"] = flux_row["wape"] / results["wape"]
    return results


def accuracy_window(visits: pd.DataFrame, bookings: dict[str, Drivers], before: int) -> None:
    booked = set(bookings)
    train, held, days = split(visits, before)
    print(
        f"\nrecruit, {WINDOWS.get(before, f'{HOLDOUT_DAYS} days ending {before} days early')}: "
        f"{visits['store'].nunique()} stores, train {train['date'].min().date()}.."
        f"{train['date'].max().date()}, held out {days[0].date()}..{days[-1].date()} "
        f"({len(held)} rows), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    config = TrainingConfig(horizon=HOLDOUT_DAYS, windows=3, seed=SEED)
    with PeakMemory() as memory:
        (models, failed), flux_seconds = timed(
            "flux with bookings: retrain + backtest (3 x 39 days) of 829 stores",
            lambda: flux_models(train, config, bookings),
        )
        flux, forecast_seconds = timed("flux: forecast", lambda: flux_forecast(models, days))
    (plain, _), _ = timed(
        "flux without bookings: retrain + backtest", lambda: flux_models(train, config)
    )
    total = flux_seconds + forecast_seconds
    print(
        f"  flux total {total:.1f} s for 829 stores (goal <= {GOAL_829_SECONDS} s: "
        f"{'met' if total <= GOAL_829_SECONDS else 'NOT met'}), peak memory {memory.gib:.2f} GiB, "
        f"{len(failed)} failed {sorted(set(failed.values()))[:3]}",
        flush=True,
    )
    forecasts: dict[str, pd.DataFrame] = {
        "flux with bookings": flux,
        "flux without bookings": flux_forecast(plain, days),
    }
    forecasts["weekday median, last 12 weeks"], _ = timed(
        "weekday median (12 weeks)", lambda: weekday_median(train, days, weeks=12)
    )
    forecasts["weekday median, all history"], _ = timed(
        "weekday median", lambda: weekday_median(train, days)
    )
    forecasts["seasonal naive (weekly)"], _ = timed(
        "seasonal naive", lambda: seasonal_naive(train, days)
    )
    if before == 0:  # the slower peers once, on the window that decides
        forecasts["prophet (defaults, per store)"], _ = timed(
            "prophet defaults", lambda: prophet_defaults(train, days)
        )
        forecasts["statsforecast AutoETS"], _ = timed("AutoETS", lambda: auto_ets(train, days))

    # Stores whose first row falls in the holdout cannot be forecast by anyone: not scored.
    unseen = ~held["store"].isin(train["store"].unique())
    print(
        f"  scored: {int((~unseen).sum())} held-out rows ({int(unseen.sum())} rows of "
        f"{held.loc[unseen, 'store'].nunique()} stores with no history before the holdout left out)"
    )
    held = held[~unseen]
    for label, rows in (
        ("all stores", held),
        (
            f"the {len(booked & set(held['store']))} stores with bookings",
            held[held["store"].isin(booked)],
        ),
    ):
        results = _rows(rows, forecasts)
        print(f"  {label}:")
        with pd.option_context("display.width", 160, "display.precision", 4):
            print(results.to_string(index=False))
        medians = results[results["method"].str.startswith("weekday median")]
        flux_row = results.iloc[0]
        best_rmsle, best_wape = medians["rmsle"].min(), medians["wape"].min()
        print(
            f"  flux against the better weekday median: RMSLE {1 - flux_row['rmsle'] / best_rmsle:+.1%}"
            f" lower, WAPE {1 - flux_row['wape'] / best_wape:+.1%} lower"
        )
    flux_joined = scored(held, flux)
    results = _rows(held, forecasts)
    flux_row = results.iloc[0]
    beaten = all(
        (flux_row["rmsle"] < r["rmsle"]) and (flux_row["wape"] < r["wape"])
        for _, r in results[~results["method"].str.startswith("flux")].iterrows()
    )
    print(f"  flux beats every peer on both RMSLE and WAPE: {beaten}")
    print(f"  stretch (RMSLE <= 0.50): {'met' if flux_row['rmsle'] <= 0.50 else 'not met'}")

    backtests = pd.DataFrame(
        [
            {"kind": kind, **{k: c[k] for k in ("wape", "rmsle", "coverage")}}
            for m in models.values()
            for kind, c in m.backtest["candidates"].items()
        ]
    )
    print("  backtest medians per candidate (3 windows x 39 days before the holdout):")
    print(backtests.groupby("kind").median().round(4).to_string())
    champions = pd.Series([m.kind for m in models.values()]).value_counts()
    print("  champions: " + ", ".join(f"{k} {v}" for k, v in champions.items()))
    backtest_cov = [m.backtest["accuracy"].get("coverage_p10_p90", np.nan) for m in models.values()]
    held_cov = coverage(
        flux_joined["value"].to_numpy(float),
        flux_joined["p10"].to_numpy(float),
        flux_joined["p90"].to_numpy(float),
    )
    print(
        f"  P10-P90 coverage: backtest (window left out) median {np.nanmedian(backtest_cov):.3f}; "
        f"on the held-out 39 days {held_cov:.3f} (target 0.80)"
    )
    if before == 0:
        path = OUT / "forecast_accuracy.png"
        plot(results, path)
        print(f"  plot: {path}")


def synthetic() -> None:
    count = int(os.environ.get("FLUX_BENCH_SYNTHETIC", "1000"))
    windows = int(os.environ.get("FLUX_BENCH_WINDOWS", "3"))
    jobs = synthetic_restaurants(count)
    config = TrainingConfig(horizon=28, windows=windows, seed=SEED)
    print(
        f"synthetic: {count} restaurants x 730 days, {windows} backtest windows of 28 days, "
        f"batches of {BATCH} (one global model each), load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    failed = 0
    sample: list[tuple[SeriesJob, Any]] = []  # the first batch, registered below
    with PeakMemory() as memory:
        started, cpu = time.perf_counter(), cpu_seconds()
        for first in range(0, count, BATCH):
            batch = jobs[first : first + BATCH]
            outcomes = train_series(batch, config)
            for outcome in outcomes:
                if isinstance(outcome, DemandModel):
                    outcome.predict(outcome.future_dates(config.horizon))
                else:
                    failed += 1
            if first == 0:
                sample = list(zip(batch, outcomes, strict=True))
            done = first + len(batch)
            elapsed = time.perf_counter() - started
            print(
                f"  {done} done in {elapsed:.0f} s ({elapsed / done:.3f} s each), "
                f"{cpu_seconds() - cpu:.0f} CPU-s so far",
                flush=True,
            )
        seconds, used = time.perf_counter() - started, cpu_seconds() - cpu
    cores = os.cpu_count() or 1
    print(
        f"  CPU {used:.0f} s (= {used / cores:.0f} s on {cores} idle cores; "
        f"10,000: {used / cores / count * 10_000 / 60:.1f} min), load {os.getloadavg()[0]:.1f}"
    )
    per_10k = seconds / count * 10_000
    print(
        f"synthetic {count}: {seconds:.0f} s, {failed} failed, peak memory {memory.gib:.2f} GiB; "
        f"10,000 restaurants: {per_10k / 60:.1f} min"
        f"{' (extrapolated linearly)' if count < 10_000 else ''} "
        f"(goal <= {GOAL_10K_SECONDS / 60:.0f} min: "
        f"{'met' if per_10k <= GOAL_10K_SECONDS else 'NOT met'})"
    )
    registration(sample, per_10k)


def bench_database() -> FluxSettings:
    """A database of the bench's own; MLflow's artifacts under ``OUT`` (emptied on each run)."""
    return scratch_settings(DATABASE, home=OUT / "forecast-home")


def new_tenants(settings: FluxSettings, count: int) -> list[str]:
    ids = [uuid.uuid4() for _ in range(count)]
    with get_engine("pipeline", settings).begin() as conn:
        conn.execute(sa.insert(tenants), [{"tenant_id": t, "name": f"b-{t.hex[:8]}"} for t in ids])
    return [str(t) for t in ids]


def register_models(
    registry: ModelRegistry, engine: sa.Engine, trained: list[tuple[SeriesJob, Any]], ids: list[str]
) -> list[float]:
    """What ``demand_models`` does after training: each model saved, registered in MLflow (run,
    params, metrics, artifacts, version, aliases) and recorded in flux.model_versions. Returns
    the seconds each took."""
    seconds = []
    with tempfile.TemporaryDirectory(prefix="flux-bench-") as folder:
        for tenant, (job, outcome) in zip(ids, trained, strict=True):
            started = time.perf_counter()
            entry = outcome_entry(replace(job, tenant_id=tenant), outcome, Path(folder))
            if entry["status"] == "succeeded":
                registry.register(engine, entry, Path(folder) / entry["model_path"])
                seconds.append(time.perf_counter() - started)
    return seconds


def registration(trained: list[tuple[SeriesJob, Any]], training_10k: float) -> None:
    settings = bench_database()
    seconds = register_models(
        ModelRegistry(settings),
        get_engine("pipeline", settings),
        trained,
        new_tenants(settings, len(trained)),
    )
    each = statistics.median(seconds)
    per_10k = each * 10_000
    print(
        f"registration of {len(seconds)} models (save, MLflow, flux.model_versions): median "
        f"{each:.3f} s each, one process; 10,000: {per_10k / 60:.1f} min; with the training above, "
        f"one after the other: {(training_10k + per_10k) / 60:.1f} min"
    )


def _nightly_run(count: int, windows: int, ids: list[str], batches: Any, progress: Any) -> None:
    """One nightly run's work in a process of its own (a Dagster run): takes batches off the
    queue, trains each (a pool of workers on every core) and registers its models."""
    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()  # the bench database (FLUX_DATABASE_URL, inherited)
    registry, engine = ModelRegistry(settings), get_engine("pipeline", settings)
    jobs = synthetic_restaurants(count)
    config = TrainingConfig(horizon=28, windows=windows, seed=SEED)
    while (first := batches.get()) is not None:
        batch = jobs[first : first + BATCH]
        outcomes = train_series(batch, config)
        register_models(
            registry, engine, list(zip(batch, outcomes, strict=True)), ids[first : first + BATCH]
        )
        progress.put(len(batch))


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc/stat's unit


def _machine_busy() -> tuple[float, float]:
    """The machine's busy and total CPU time so far, over every core (from /proc/stat)."""
    fields = [float(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def nightly() -> None:
    """The nightly as dagster.yaml runs it: ``NIGHTLY_RUNS`` runs at a time, each training a batch
    of ``BATCH`` restaurants and registering their models, so one run's registration (one core)
    overlaps the other's training."""
    count = int(os.environ.get("FLUX_BENCH_SYNTHETIC", "1000"))
    windows = int(os.environ.get("FLUX_BENCH_WINDOWS", "3"))
    settings = bench_database()
    ids = new_tenants(settings, count)
    context = multiprocessing.get_context("spawn")
    batches, progress = context.Queue(), context.Queue()
    for first in range(0, count, BATCH):
        batches.put(first)
    runs = [
        context.Process(target=_nightly_run, args=(count, windows, ids, batches, progress))
        for _ in range(NIGHTLY_RUNS)
    ]
    print(
        f"nightly: {count} restaurants in batches of {BATCH}, {NIGHTLY_RUNS} runs at a time, "
        "each batch trained and its models registered",
        flush=True,
    )
    with PeakMemory() as memory:
        # The runs' workers are their fork servers' children, reaped by nobody who reports them
        # to this process: the machine's busy time is read from /proc/stat instead (PostgreSQL's
        # share of the registrations included).
        started, busy = time.perf_counter(), _machine_busy()
        for run in runs:
            batches.put(None)  # one stop per run, after every batch
            run.start()
        done = 0
        while done < count and any(run.is_alive() for run in runs):
            try:
                done += progress.get(timeout=5)
            except queue.Empty:
                continue
            elapsed = time.perf_counter() - started
            print(f"  {done} done in {elapsed:.0f} s ({elapsed / done:.3f} s each)", flush=True)
        for run in runs:
            run.join()
        seconds = time.perf_counter() - started
        used, total = (after - before for after, before in zip(_machine_busy(), busy, strict=True))
    with get_engine("pipeline", settings).connect() as conn:
        registered = conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar()
    per_10k = seconds / count * 10_000
    print(
        f"nightly {count}: {seconds:.0f} s, {registered} models registered, the machine's cores "
        f"busy {used / total:.0%} of the time, "
        f"peak memory {memory.gib:.2f} GiB; 10,000 restaurants: {per_10k / 60:.1f} min "
        f"(extrapolated linearly; goal <= {GOAL_10K_SECONDS / 60:.0f} min: "
        f"{'met' if per_10k <= GOAL_10K_SECONDS else 'NOT met'})"
    )


def upload_restaurants(settings: FluxSettings, jobs: list[SeriesJob]) -> list[str]:
    """Each synthetic restaurant a tenant with its history uploaded as a CSV file (date, sales)."""
    zone = landing_zone(settings)
    with get_engine("pipeline", settings).begin() as conn:
        ids = list(
            conn.execute(
                sa.insert(tenants).returning(tenants.c.tenant_id),
                [{"name": job.tenant_id, "country": job.country} for job in jobs],
            ).scalars()
        )
        for tenant_id, job in zip(ids, jobs, strict=True):
            frame = job.history.rename(columns={"value": "sales"})
            frame = frame.assign(date=frame["date"].dt.date)
            csv = frame.to_csv(index=False, lineterminator="\n").encode()
            receive_upload(conn, zone, tenant_id, f"{job.tenant_id}.csv", io.BytesIO(csv))
    return [str(t) for t in ids]


def _report(label: str, count: int, seconds: float, used: float) -> None:
    cores = os.cpu_count() or 1
    print(
        f"  {label}: {seconds:.0f} s for {count} restaurants ({seconds / count:.3f} s each), "
        f"{used:.0f} CPU-s ({used / count:.3f} each; 10,000 on {cores} cores: "
        f"{used / count * 10_000 / cores / 60:.1f} min of CPU)",
        flush=True,
    )


def first_night(settings: FluxSettings, count: int) -> int:
    """``ingest_to_forecast`` over every tenant, as ``flux run`` runs it; returns failed runs."""
    started, busy = time.perf_counter(), _machine_busy()[0]
    results = run_graph(
        settings,
        on_batch=lambda i, n, a, b: print(f"  ingest_to_forecast: run {i}/{n}", flush=True),
    )
    used = (_machine_busy()[0] - busy) / _CLOCK_TICKS
    _report("ingest_to_forecast", count, time.perf_counter() - started, used)
    return sum(not r.success for r in results)


def scheduled_nightly(settings: FluxSettings) -> tuple[list[dict[str, str]], int]:
    """The nightly schedule evaluated now, as the daemon would: the tags of the runs it asks for,
    and how many tenants it leaves out (their upload runs trained them on their latest data)."""
    import dagster as dg

    from flux_pipelines.defs.orchestration.jobs import nightly_retrain
    from flux_pipelines.defs.resources import FluxDatabase

    instance = dagster_instance(settings)
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=pd.Timestamp.now(tz="UTC").to_pydatetime(),
        resources={"database": FluxDatabase()},
    ) as context:
        requests = list(nightly_retrain(context))
    keys = instance.get_dynamic_partitions(TENANTS)
    asked = {t for r in requests for t in run_tenants(r.tags, instance, keys) or []}
    return [dict(r.tags) for r in requests], len(keys) - len(asked)


def age_champions(settings: FluxSettings, tenant_ids: list[str], hours: float) -> None:
    """As if these tenants' champions were trained ``hours`` earlier (by the night before)."""
    with get_engine("pipeline", settings).begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.tenant_id.in_([uuid.UUID(t) for t in tenant_ids]))
            .values(trained_at=model_versions.c.trained_at - sa.cast(f"{hours} hours", sa.Interval))
        )


def launched_nightly(
    settings: FluxSettings, count: int, runs: list[dict[str, str]] | None = None, label: str = ""
) -> tuple[float, float, int]:
    """``retrain_and_forecast`` as the daemon launches it: a process per run (``dagster job
    execute``, the job's own executor), ``NIGHTLY_RUNS`` at a time; ``runs``: each run's tags
    (default: every tenant, a batch of ``BATCH`` each). Returns wall seconds, the machine's busy
    CPU-seconds and failed runs."""
    if runs is None:
        keys = list(dagster_instance(settings).get_dynamic_partitions(TENANTS))
        runs = [TenantBatch(a, b).tags() for a, b in job_batches(keys)]
    env = {**os.environ, **dagster_environment(settings)}
    command = [str(Path(sys.executable).with_name("dagster")), "job", "execute"]
    command += ["-m", "flux_pipelines.definitions", "-j", "retrain_and_forecast", "--tags"]
    pending = list(enumerate(runs))
    running: list[subprocess.Popen[bytes]] = []
    failed = 0
    started, busy = time.perf_counter(), _machine_busy()[0]
    RUN_LOGS.mkdir(parents=True, exist_ok=True)
    while pending or running:
        while pending and len(running) < NIGHTLY_RUNS:
            index, tags = pending.pop(0)
            with (RUN_LOGS / f"run-{index}.log").open("wb") as log:
                running.append(
                    subprocess.Popen([*command, json.dumps(tags)], env=env, stdout=log, stderr=log)
                )
        time.sleep(1)
        for run in [r for r in running if r.poll() is not None]:
            running.remove(run)
            failed += run.returncode != 0
    seconds, used = time.perf_counter() - started, (_machine_busy()[0] - busy) / _CLOCK_TICKS
    _report(
        f"retrain_and_forecast{label}, {NIGHTLY_RUNS} launched runs at a time", count, seconds, used
    )
    return seconds, used, failed


def dagster_runs() -> None:
    """The real runs on a sample: upload, ``ingest_to_forecast`` (the first night), then the
    nightly ``retrain_and_forecast`` as the daemon launches it."""
    count = int(os.environ.get("FLUX_BENCH_DAGSTER", "200"))
    settings = bench_database()
    jobs = synthetic_restaurants(count)
    ids = upload_restaurants(settings, jobs)
    print(f"dagster: {len(ids)} restaurants uploaded as CSV, {BATCH} tenants a run", flush=True)
    with PeakMemory() as memory:
        first_failed = first_night(settings, count)
        runs, left_out = scheduled_nightly(settings)
        print(
            f"  the nightly schedule right after: {left_out} of {count} tenants left out (trained "
            f"on their latest uploads within FLUX_NIGHTLY_SKIP_HOURS), {len(runs)} runs asked for",
            flush=True,
        )
        # A night when every other restaurant did not upload: its champion is the night before's.
        age_champions(settings, ids[::2], hours=24)
        runs, left_out = scheduled_nightly(settings)
        print(
            f"  every other tenant's champion a day old: {left_out} of {count} left out, "
            f"{len(runs)} runs asked for",
            flush=True,
        )
        half_seconds, half_used, half_failed = launched_nightly(
            settings, count, runs, " (half the tenants current)"
        )
        # The nightly of a day when no upload run came first: every tenant retrained.
        full_started = pd.Timestamp.now(tz="UTC")
        seconds, used, failed = launched_nightly(settings, count, label=" (every tenant)")
    with get_engine("pipeline", settings).connect() as conn:
        retrained = conn.execute(
            sa.select(sa.func.count(sa.distinct(model_versions.c.tenant_id))).where(
                model_versions.c.is_champion, model_versions.c.trained_at >= full_started
            )
        ).scalar()
    print(
        f"dagster {count}: the nightly with half the tenants current {half_seconds:.0f} s, "
        f"{half_used:.0f} CPU-s, {half_seconds / seconds:.2f} of the full nightly's time",
        flush=True,
    )
    failed += half_failed
    per_10k = seconds / count * 10_000
    print(
        f"dagster {count}: the nightly {seconds:.0f} s, {used:.0f} CPU-s, "
        f"{failed + first_failed} failed runs, {retrained} tenants retrained "
        f"(logs: {RUN_LOGS}), peak "
        f"memory {memory.gib:.2f} GiB; 10,000 "
        f"restaurants: {per_10k / 60:.1f} min (extrapolated linearly; goal <= "
        f"{GOAL_10K_SECONDS / 60:.0f} min: {'met' if per_10k <= GOAL_10K_SECONDS else 'NOT met'})"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("flux.training").setLevel(logging.INFO)  # the batch's phase timings
    parts = os.environ.get("FLUX_BENCH_PARTS", "accuracy,synthetic,nightly,dagster").split(",")
    if "accuracy" in parts:
        accuracy()
    if "synthetic" in parts:
        synthetic()
    if "nightly" in parts:
        nightly()
    if "dagster" in parts:
        dagster_runs()
