"""A batch of tenant-metrics trained together: per-series work on every core, one global model.

Per-series work (candidates' backtests, the champion's refit) runs in a pool of processes, one per
core; the global model is fitted in this process between the two, with every core's threads. A
series that fails (bad data, a candidate that breaks the baseline, a worker that dies) comes back
as a ``SeriesFailure``; the others go on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

# OpenMP threads that spin while they wait starve each other (and the worker processes) on a busy
# machine: xgboost's fits ran 7x slower with two spinning threads than with one. Set before
# xgboost loads (it is imported lazily), inherited by the workers.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from flux_pipelines.defs.training.backtest import (  # noqa: E402
    SeriesBacktest,
    choose_champion,
    score,
)
from flux_pipelines.defs.training.candidates import (  # noqa: E402
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    GLOBAL,
    EnsembleForecaster,
)
from flux_pipelines.defs.training.global_model import add_global_predictions, fit_global_model  # noqa: E402
from flux_pipelines.defs.training.model import DemandModel  # noqa: E402
from flux_pipelines.defs.training.train import (  # noqa: E402
    SeriesBacktestResult,
    SeriesJob,
    TrainingConfig,
    backtest_series,
    baseline_without_backtest,
    finish_series,
    global_forecaster,
    refit_champion,
)

log = logging.getLogger("flux.training")


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


class SeriesRunner:
    """Maps per-series work over a process pool (or inline, for one worker)."""

    def __init__(self, workers: int) -> None:
        # spawn, not fork: the parent may hold threads (xgboost, Dagster, database pools).
        self.pool = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1
            else None
        )

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        if self.pool is None:
            return [_call(fn, *args) for args in calls]
        futures = [self.pool.submit(_call, fn, *args) for args in calls]
        out: list[Any] = []
        for future in futures:
            try:
                out.append(future.result())
            except Exception as exc:  # noqa: BLE001 - a dead worker fails its series only
                out.append(SeriesFailure(f"{type(exc).__name__}: {exc}"))
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def add_ensemble_predictions(bt: SeriesBacktest) -> None:
    if all(member in bt.predictions for member in ENSEMBLE_MEMBERS):
        parts = [bt.predictions[member] for member in ENSEMBLE_MEMBERS]
        bt.predictions[ENSEMBLE] = [
            np.mean(np.stack(window), axis=0) for window in zip(*parts, strict=True)
        ]
    else:
        bt.failed[ENSEMBLE] = "a member failed: " + ", ".join(
            m for m in ENSEMBLE_MEMBERS if m not in bt.predictions
        )


def ensemble_forecaster(job: SeriesJob, model: Any, config: TrainingConfig) -> EnsembleForecaster:
    members = [
        refit_champion(job, member, config)
        if member != GLOBAL
        else global_forecaster(job, model, config)
        for member in ENSEMBLE_MEMBERS
    ]
    return EnsembleForecaster(members)


def train_series(
    jobs: Sequence[SeriesJob], config: TrainingConfig, workers: int | None = None
) -> list[DemandModel | SeriesFailure]:
    """Every job's champion model, in the order of ``jobs``."""
    runner = SeriesRunner(workers if workers is not None else worker_count(config, len(jobs)))
    threads = worker_count(config, 1 << 16)
    clock = time.perf_counter()
    try:
        outcomes: list[Any] = runner.map(backtest_series, [(job, config) for job in jobs])
        log.info("%d series backtested in %.1fs", len(jobs), time.perf_counter() - clock)
        clock = time.perf_counter()
        done = [o for o in outcomes if isinstance(o, SeriesBacktestResult)]
        global_models: dict[int, Any] = {}
        global_error = ""
        if GLOBAL in config.candidates and done:
            inputs = [o.global_inputs for o in done if o.global_inputs is not None]
            try:
                for k in range(1, config.windows + 1):
                    global_models[k] = fit_global_model(
                        inputs, k, config.horizon, seed=config.seed, n_jobs=threads
                    )
            except Exception as exc:  # noqa: BLE001 - without a global model the others compete
                global_models, global_error = {}, f"{type(exc).__name__}: {exc}"
        log.info("global models fitted in %.1fs", time.perf_counter() - clock)
        clock = time.perf_counter()
        chosen: dict[int, tuple[dict[str, Any], str]] = {}
        for position, outcome in enumerate(outcomes):
            if not isinstance(outcome, SeriesBacktestResult):
                continue
            try:
                if outcome.global_inputs is not None:
                    if global_models:
                        add_global_predictions(
                            outcome.bt, outcome.global_inputs, global_models, GLOBAL
                        )
                    else:
                        outcome.bt.failed[GLOBAL] = global_error
                if ENSEMBLE in config.candidates:
                    add_ensemble_predictions(outcome.bt)
                scores = score(outcome.bt)
                chosen[position] = (scores, choose_champion(scores))
            except Exception as exc:  # noqa: BLE001
                outcomes[position] = SeriesFailure(f"{type(exc).__name__}: {exc}")
        forecasters: dict[int, Any] = {}
        if any(kind in (GLOBAL, ENSEMBLE) for _, kind in chosen.values()):
            inputs = [o.global_inputs for o in done if o.global_inputs is not None]
            final = fit_global_model(inputs, 0, config.horizon, seed=config.seed, n_jobs=threads)
            for position, (_, kind) in chosen.items():
                if kind == GLOBAL:
                    forecasters[position] = global_forecaster(jobs[position], final, config)
                elif kind == ENSEMBLE:
                    forecasters[position] = _call(
                        ensemble_forecaster, jobs[position], final, config
                    )
        local = [p for p, (_, kind) in chosen.items() if kind not in (GLOBAL, ENSEMBLE)]
        refits = runner.map(refit_champion, [(jobs[p], chosen[p][1], config) for p in local])
        forecasters.update(zip(local, refits, strict=True))
        log.info("champions refitted in %.1fs", time.perf_counter() - clock)
    finally:
        runner.close()
    models: list[DemandModel | SeriesFailure] = []
    for position, outcome in enumerate(outcomes):
        forecaster = forecasters.get(position)
        if isinstance(outcome, SeriesFailure) and outcome.error.startswith("InsufficientHistory"):
            models.append(_call(baseline_without_backtest, jobs[position], config, outcome.error))
        elif isinstance(outcome, SeriesFailure):
            models.append(outcome)
        elif isinstance(forecaster, SeriesFailure) or forecaster is None:
            models.append(forecaster or SeriesFailure("no champion was fitted"))
        else:
            scores, champion = chosen[position]
            models.append(
                finish_series(jobs[position], outcome, forecaster, scores, champion, config)
            )
    return models
