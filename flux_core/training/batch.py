"""A batch of tenant-metrics trained together: per-series work on every core, one global model.

Per-series work (candidates' backtests, the champion's refit) runs in a pool of processes, one per
core; the global models are fitted in this process between the two, with every core's threads (the
final one while the workers refit). A series that fails (bad data, a candidate that breaks the baseline, a worker that dies) comes back
as a ``SeriesFailure``; the others go on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flux_core.training.backtest import (
    SeriesBacktest,
    batch_prior,
    choose_champion,
    score,
)
from flux_core.training.candidates import (
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    GLOBAL,
    EnsembleForecaster,
    Forecaster,
    ensemble_weights,
    log_mean,
)
from flux_core.training.global_model import (
    BACKTEST_TRAINING_ROWS,
    GlobalInputs,
    add_global_predictions,
    fit_global_model,
)
from flux_core.training.model import DemandModel
from flux_core.training.selection import SeriesPlan
from flux_core.training.train import (
    SeriesBacktestResult,
    SeriesJob,
    TrainingConfig,
    backtest_series,
    finish_series,
    global_forecaster,
    median_without_backtest,
    refit_champion,
    refit_inputs,
    refitted_model,
)

log = logging.getLogger("flux.training")


class TrainingFailed(RuntimeError):
    """A single series could not be trained (the reason, as the batch recorded it)."""


@dataclass(frozen=True)
class SeriesFailure:
    error: str
    traceback: str = ""


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Runs in a worker: an exception becomes this series' failure, never the pool's."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - one series' failure must not fail the batch
        return SeriesFailure(f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=5))


def worker_count(config: TrainingConfig, jobs: int) -> int:
    wanted = config.workers if config.workers > 0 else (os.cpu_count() or 1)
    return max(1, min(wanted, jobs))


# What every worker imports: about 4 CPU-seconds (pandas, Prophet, cmdstanpy, xgboost), paid once
# by the fork server instead of once per worker of every batch.
WORKER_PRELOAD = (
    "flux_core.training.train",
    "prophet",
    "prophet.serialize",
    "xgboost",
)


def apply_worker_settings() -> None:
    """What a training process sets before it imports xgboost (the entrypoint calls it first;
    the fork server inherits it).

    OpenMP threads that spin while they wait starve each other (and the worker processes) on a
    busy machine: xgboost's fits ran 7x slower with two spinning threads than with one.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported the training code (``WORKER_PRELOAD``).

    Not plain fork: the parent may hold threads (xgboost, Dagster, database pools), and a forked
    copy of a lock held by one of them never unlocks. The fork server is a fresh single-threaded
    process; it lives as long as this one, so later batches' pools start in milliseconds.
    """
    apply_worker_settings()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_PRELOAD))
    return context


class SeriesRunner:
    """Maps per-series work over a process pool (or inline, for one worker)."""

    def __init__(self, workers: int) -> None:
        self.pool = (
            ProcessPoolExecutor(workers, mp_context=worker_context()) if workers > 1 else None
        )

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        return self.start(fn, calls)()

    def start(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Callable[[], list[Any]]:
        """Submits the calls and returns what collects their results: this process can do other
        work (a global fit) while the workers run. Inline, the calls run when collected."""
        if self.pool is None:
            return lambda: [_call(fn, *args) for args in calls]
        futures = [self.pool.submit(_call, fn, *args) for args in calls]

        def collect() -> list[Any]:
            out: list[Any] = []
            for future in futures:
                try:
                    out.append(future.result())
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its series only
                    out.append(SeriesFailure(f"{type(exc).__name__}: {exc}"))
            return out

        return collect

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def add_ensemble_predictions(bt: SeriesBacktest, candidates: Sequence[str]) -> None:
    """The ensemble of the members that are candidates and forecast every window (at least two)."""
    members = [m for m in ENSEMBLE_MEMBERS if m in candidates and m in bt.predictions]
    if len(members) < 2:
        bt.failed[ENSEMBLE] = "fewer than two members: " + ", ".join(
            f"{m} ({bt.failed.get(m, 'not a candidate')})"
            for m in ENSEMBLE_MEMBERS
            if m not in members
        )
        return
    bt.members[ENSEMBLE] = members
    parts = [bt.predictions[member] for member in members]
    weights = ensemble_weights(members)
    bt.predictions[ENSEMBLE] = [
        log_mean(list(window), weights) for window in zip(*parts, strict=True)
    ]


def local_fits(kind: str, members: Sequence[str]) -> list[str]:
    """The per-series models a champion of ``kind`` (a blend of ``members``) needs refitted on
    the whole history."""
    if kind == GLOBAL:
        return []
    if kind == ENSEMBLE:
        return [member for member in members if member != GLOBAL]
    return [kind]


def needs_global(kind: str, members: Sequence[str]) -> bool:
    return kind == GLOBAL or (kind == ENSEMBLE and GLOBAL in members)


def refit_local(
    job: SeriesJob,
    kinds: Sequence[str],
    config: TrainingConfig,
    warm_starts: Mapping[str, dict[str, Any]],
) -> tuple[list[Forecaster], float]:
    """Runs in a worker: ``kinds`` refitted on the whole history (from the backtest's last fit of
    each, when there was a backtest), and the seconds it took."""
    started = time.perf_counter()
    fitted = [refit_champion(job, kind, config, warm_starts.get(kind)) for kind in kinds]
    return fitted, time.perf_counter() - started


def champion_forecaster(
    job: SeriesJob,
    kind: str,
    members: Sequence[str],
    inputs: GlobalInputs | None,
    refitted: list[Forecaster],
    final: Any,
    config: TrainingConfig,
) -> Forecaster:
    if kind == GLOBAL:
        return global_forecaster(job, final, config, inputs)
    if kind == ENSEMBLE:
        fitted = dict(zip(local_fits(kind, members), refitted, strict=True))
        return EnsembleForecaster(
            [
                global_forecaster(job, final, config, inputs)
                if member == GLOBAL
                else fitted[member]
                for member in members
            ],
            ensemble_weights(list(members)),
        )
    [forecaster] = refitted
    return forecaster


def _no_inputs(calls: Sequence[Any]) -> Callable[[], list[Any]]:
    return lambda: [None] * len(calls)


def train_series(
    jobs: Sequence[SeriesJob],
    config: TrainingConfig,
    workers: int | None = None,
    plans: Mapping[tuple[str, str], SeriesPlan] | None = None,
) -> list[DemandModel | SeriesFailure]:
    """Every job's champion model, in the order of ``jobs``.

    ``plans``: per (tenant, metric), what ``selection.plan_series`` decided. A series planned as
    a refit keeps its selection's kind and intervals and is only refitted; every other one runs
    the tournament. Either way the series lends its rows to the batch's final global model.
    """
    plans = plans or {}
    refits = {
        p: plan
        for p, job in enumerate(jobs)
        if (plan := plans.get((job.tenant_id, job.metric))) is not None and plan.mode == "refit"
    }
    selecting = [p for p in range(len(jobs)) if p not in refits]
    reasons = {
        p: plans[(j.tenant_id, j.metric)].reason
        for p, j in enumerate(jobs)
        if p not in refits and (j.tenant_id, j.metric) in plans
    }
    runner = SeriesRunner(workers if workers is not None else worker_count(config, len(jobs)))
    threads = worker_count(config, 1 << 16)
    clock = time.perf_counter()
    try:
        collect_backtests = runner.start(backtest_series, [(jobs[p], config) for p in selecting])
        lend_calls = [(jobs[p], config) for p in refits]
        collect_lent = (
            runner.start(refit_inputs, lend_calls)
            if GLOBAL in config.candidates
            else _no_inputs(lend_calls)
        )
        outcomes: dict[int, Any] = dict(zip(selecting, collect_backtests(), strict=True))
        lent: dict[int, Any] = dict(zip(refits, collect_lent(), strict=True))
        log.info(
            "%d series backtested, %d prepared for a refit in %.1fs",
            len(selecting),
            len(refits),
            time.perf_counter() - clock,
        )
        clock = time.perf_counter()
        done = {p: o for p, o in outcomes.items() if isinstance(o, SeriesBacktestResult)}
        global_models: dict[int, Any] = {}
        global_error = ""
        backtest_inputs = [o.global_inputs for o in done.values() if o.global_inputs is not None]
        if GLOBAL in config.candidates and backtest_inputs:
            try:
                for k in range(1, config.windows + 1):
                    global_models[k] = fit_global_model(
                        backtest_inputs,
                        k,
                        config.horizon,
                        seed=config.seed,
                        n_jobs=threads,
                        max_rows=BACKTEST_TRAINING_ROWS,
                    )
            except Exception as exc:  # noqa: BLE001 - without a global model the others compete
                global_models, global_error = {}, f"{type(exc).__name__}: {exc}"
            log.info("global backtest models fitted in %.1fs", time.perf_counter() - clock)
        clock = time.perf_counter()
        scored: dict[int, dict[str, Any]] = {}
        for position, outcome in done.items():
            try:
                if outcome.global_inputs is not None:
                    if global_models:
                        add_global_predictions(
                            outcome.bt, outcome.global_inputs, global_models, GLOBAL
                        )
                    else:
                        outcome.bt.failed[GLOBAL] = global_error
                if ENSEMBLE in config.candidates:
                    add_ensemble_predictions(outcome.bt, config.candidates)
                scored[position] = score(outcome.bt)
            except Exception as exc:  # noqa: BLE001
                outcomes[position] = SeriesFailure(f"{type(exc).__name__}: {exc}")
        # Each series' champion, its own few windows judged against what the batch's show.
        prior = batch_prior(scored.values())
        chosen = {p: (scores, choose_champion(scores, prior)) for p, scores in scored.items()}
        # What each series' champion is: the tournament's winner, or the selection it keeps.
        champions: dict[int, tuple[str, list[str], GlobalInputs | None, dict[str, Any]]] = {}
        for p, (_, kind) in chosen.items():
            bt = outcomes[p].bt
            champions[p] = (
                kind,
                bt.members.get(kind, []),
                outcomes[p].global_inputs,
                bt.warm_starts,
            )
        for p, plan in refits.items():
            if isinstance(lent[p], SeriesFailure):
                continue
            assert plan.kind is not None
            champions[p] = (plan.kind, list(plan.members), lent[p], {})
        # The workers refit the per-series models while this process fits the final global model.
        positions = list(champions)
        collect = runner.start(
            refit_local,
            [
                (jobs[p], local_fits(champions[p][0], champions[p][1]), config, champions[p][3])
                for p in positions
            ],
        )
        final = None
        if any(needs_global(kind, members) for kind, members, _, _ in champions.values()):
            inputs = [*backtest_inputs, *(i for i in lent.values() if isinstance(i, GlobalInputs))]
            final = fit_global_model(inputs, 0, config.horizon, seed=config.seed, n_jobs=threads)
        forecasters: dict[int, Any] = {}
        seconds: dict[int, float] = {}
        for position, refitted in zip(positions, collect(), strict=True):
            if isinstance(refitted, SeriesFailure):
                forecasters[position] = refitted
                continue
            kind, members, lent_inputs, _ = champions[position]
            fitted, seconds[position] = refitted
            forecasters[position] = _call(
                champion_forecaster,
                jobs[position],
                kind,
                members,
                lent_inputs,
                fitted,
                final,
                config,
            )
        log.info("champions refitted in %.1fs", time.perf_counter() - clock)
    finally:
        runner.close()
    models: list[DemandModel | SeriesFailure] = []
    for position, job in enumerate(jobs):
        forecaster = forecasters.get(position)
        result: Any = outcomes.get(position, lent.get(position))
        if isinstance(result, SeriesFailure) and result.error.startswith("InsufficientHistory"):
            models.append(_call(median_without_backtest, job, config, result.error))
        elif isinstance(result, SeriesFailure):
            models.append(result)
        elif isinstance(forecaster, SeriesFailure) or forecaster is None:
            models.append(forecaster or SeriesFailure("no champion was fitted"))
        elif position in refits:
            models.append(
                _call(refitted_model, job, refits[position], forecaster, seconds[position])
            )
        else:
            scores, champion = chosen[position]
            models.append(
                finish_series(
                    job,
                    result,
                    forecaster,
                    scores,
                    champion,
                    config,
                    prior,
                    reasons.get(position, ""),
                )
            )
    return models


def train_demand_model(
    history: pd.DataFrame,
    *,
    tenant_id: str,
    metric: str,
    country: str,
    config: TrainingConfig,
) -> DemandModel:
    """``history``: one row per day with ``date`` and ``value`` (NULL/NaN = unknown day)."""
    [outcome] = train_series(
        [SeriesJob(tenant_id, metric, country, history[["date", "value"]])], config, workers=1
    )
    if not isinstance(outcome, DemandModel):
        raise TrainingFailed(outcome.error)
    return outcome
