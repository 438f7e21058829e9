"""Where the training entrypoint runs: a ``TrainingBackend`` takes a batch and returns its models.

``LocalTrainingBackend`` (the default) lays out a directory exactly like SageMaker's ``/opt/ml`` and
runs the entrypoint as a subprocess. ``SageMakerTrainingBackend`` (``sagemaker.py``) implements the
same protocol: the channel to S3, ``CreateTrainingJob`` (spot) with the same entrypoint and
hyperparameters, polling, and ``model.tar.gz`` extracted into the same ``workdir/opt-ml/model``.
The Dagster resource ``training_backend`` picks one (``flux_pipelines/defs/training/resources.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from flux_core.training.job_files import (
    DRIVERS_FILE,
    ENTRYPOINT_MODULE,
    PLANS_FILE,
    RESULTS_FILE,
    TRAIN_FILE,
)


class TrainingJobFailed(RuntimeError):
    """The job as a whole failed (not one tenant: those are in the results)."""


@dataclass(frozen=True)
class TrainingResult:
    job_name: str
    model_dir: Path  # one folder per tenant/metric, as the entrypoint wrote it
    output_dir: Path
    results: list[dict[str, Any]]
    seconds: float
    log_tail: str = ""

    def model_path(self, result: Mapping[str, Any]) -> Path:
        return self.model_dir / str(result["model_path"])


class TrainingBackend(Protocol):
    def train(
        self,
        data: pd.DataFrame,
        hyperparameters: Mapping[str, object],
        *,
        job_name: str,
        workdir: Path,
        drivers: pd.DataFrame | None = None,
        plans: Sequence[Mapping[str, Any]] = (),
    ) -> TrainingResult:
        """Train every tenant-metric of ``data`` in one job; ``workdir`` receives the models.
        ``drivers``: the tenants' bookings and told days (``fct_demand_drivers``); ``plans``:
        the series to refit rather than reselect (``selection.SeriesPlan`` with tenant and
        metric)."""
        ...


def sagemaker_layout(root: Path) -> dict[str, Path]:
    """The folders of SageMaker's ``/opt/ml``, under ``root``."""
    return {
        "train": root / "input" / "data" / "train",
        "config": root / "input" / "config",
        "model": root / "model",
        "output": root / "output",
        "output_data": root / "output" / "data",
        "checkpoints": root / "checkpoints",
    }


def write_job_inputs(
    workdir: Path,
    data: pd.DataFrame,
    hyperparameters: Mapping[str, object],
    drivers: pd.DataFrame | None = None,
    plans: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Path]:
    """SageMaker's layout under ``workdir/opt-ml``, with the batch's channel and config in it."""
    layout = sagemaker_layout(workdir / "opt-ml")
    for path in layout.values():
        path.mkdir(parents=True, exist_ok=True)
    data.to_parquet(layout["train"] / TRAIN_FILE, index=False)
    if drivers is not None and not drivers.empty:
        drivers.to_parquet(layout["train"] / DRIVERS_FILE, index=False)
    if plans:
        (layout["train"] / PLANS_FILE).write_text(json.dumps(list(plans)))
    # SageMaker hands hyperparameters over as strings; so do we, to run the same code path.
    as_strings = {key: str(value) for key, value in hyperparameters.items()}
    (layout["config"] / "hyperparameters.json").write_text(json.dumps(as_strings))
    (layout["config"] / "inputdataconfig.json").write_text(
        json.dumps({"train": {"ContentType": "application/x-parquet"}})
    )
    return layout


def read_results(model_dir: Path) -> list[dict[str, Any]]:
    path = model_dir / RESULTS_FILE
    if not path.exists():
        raise TrainingJobFailed(f"the job wrote no {RESULTS_FILE} in {model_dir}")
    results: list[dict[str, Any]] = json.loads(path.read_text())["results"]
    return results


def job_result(
    job_name: str, layout: Mapping[str, Path], *, seconds: float, log_tail: str
) -> TrainingResult:
    """What a finished job left in ``layout`` (the same folders whichever backend ran it)."""
    return TrainingResult(
        job_name=job_name,
        model_dir=layout["model"],
        output_dir=layout["output_data"],
        results=read_results(layout["model"]),
        seconds=seconds,
        log_tail=log_tail,
    )


class LocalTrainingBackend:
    """Runs the SageMaker entrypoint as a local process, with SageMaker's directories and env."""

    def __init__(self, timeout_seconds: float = 6 * 3600, python: str = sys.executable) -> None:
        self.timeout_seconds = timeout_seconds
        self.python = python

    def train(
        self,
        data: pd.DataFrame,
        hyperparameters: Mapping[str, object],
        *,
        job_name: str,
        workdir: Path,
        drivers: pd.DataFrame | None = None,
        plans: Sequence[Mapping[str, Any]] = (),
    ) -> TrainingResult:
        layout = write_job_inputs(workdir, data, hyperparameters, drivers, plans)
        env = {
            **os.environ,
            "SM_CHANNEL_TRAIN": str(layout["train"]),
            "SM_CHANNELS": json.dumps(["train"]),
            "SM_INPUT_CONFIG_DIR": str(layout["config"]),
            "SM_MODEL_DIR": str(layout["model"]),
            "SM_OUTPUT_DIR": str(layout["output"]),
            "SM_OUTPUT_DATA_DIR": str(layout["output_data"]),
            "FLUX_CHECKPOINT_DIR": str(layout["checkpoints"]),
            "SM_CURRENT_HOST": "algo-1",
            "SM_HPS": json.dumps({k: str(v) for k, v in hyperparameters.items()}),
            "TRAINING_JOB_NAME": job_name,
        }
        started = time.perf_counter()
        completed = subprocess.run(
            [self.python, "-m", ENTRYPOINT_MODULE],
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout_seconds,
            check=False,
        )
        seconds = time.perf_counter() - started
        log_tail = (completed.stdout + completed.stderr)[-4000:]
        (layout["output"] / "job.log").write_text(completed.stdout + completed.stderr)
        if completed.returncode != 0:
            failure = layout["output"] / "failure"
            reason = failure.read_text() if failure.exists() else log_tail
            raise TrainingJobFailed(
                f"training job {job_name} exited with {completed.returncode}: {reason}"
            )
        return job_result(job_name, layout, seconds=seconds, log_tail=log_tail)
