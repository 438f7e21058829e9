"""SageMaker script-mode entrypoint: trains a BATCH of tenant-metrics in one job.

Reads what SageMaker hands over (the ``train`` channel, ``hyperparameters.json`` with string values)
and writes where it expects: one model per tenant-metric under ``SM_MODEL_DIR/<tenant>/<metric>/``
and ``results.json`` (every tenant-metric's status, champion and backtest) both there and in
``SM_OUTPUT_DATA_DIR``. One tenant-metric's failure is recorded, never fatal to the job.

Checkpoints (managed spot training): the series are trained in chunks of ``checkpoint_series``;
after each chunk its models and results go to the checkpoint folder (``/opt/ml/checkpoints``,
which SageMaker syncs to S3 and restores when it restarts an interrupted job). A restarted job
takes the series recorded there as done and trains only the rest. The global model is fitted
per chunk, so a chunk is as large as a nightly batch usually is.

Run as ``python -m flux_core.training.entrypoint``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from flux_core.training.batch import SeriesFailure, apply_worker_settings, train_series
from flux_core.training.candidates import CANDIDATES
from flux_core.training.drivers import Drivers
from flux_core.training.job_files import DRIVERS_FILE, PLANS_FILE, RESULTS_FILE
from flux_core.training.selection import SeriesPlan
from flux_core.training.train import SeriesJob, TrainingConfig

CHECKPOINT_RESULTS = "results.jsonl"  # one line per finished series, written after its model
CHECKPOINT_SERIES = 250
REQUIRED_COLUMNS = ("tenant_id", "metric", "date", "value")
DEFAULT_COUNTRY = "US"
log = logging.getLogger("flux.training")


def sagemaker_paths(env: Mapping[str, str] = os.environ) -> dict[str, Path]:
    config_dir = Path(env.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config"))
    return {
        "train": Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")),
        "hyperparameters": config_dir / "hyperparameters.json",
        "model": Path(env.get("SM_MODEL_DIR", "/opt/ml/model")),
        "output": Path(env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")),
        "failure": Path(env.get("SM_OUTPUT_DIR", "/opt/ml/output")) / "failure",
        # CheckpointConfig.LocalPath of the job (sagemaker.py); absent when no checkpoints are kept.
        "checkpoints": Path(env.get("FLUX_CHECKPOINT_DIR", "/opt/ml/checkpoints")),
    }


def hyperparameters(path: Path) -> dict[str, str]:
    """``hyperparameters.json``: SageMaker passes every value as a string, sometimes JSON-quoted."""
    raw: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    values = {name: str(item) for name, item in raw.items() if item is not None}
    return {
        name: text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
        for name, text in values.items()
    }


def read_hyperparameters(path: Path) -> TrainingConfig:
    """The training configuration; missing values default."""
    value = hyperparameters(path).get
    defaults = TrainingConfig()
    candidates = value("candidates")
    return TrainingConfig(
        horizon=int(value("horizon") or defaults.horizon),
        windows=int(value("backtest_windows") or defaults.windows),
        seed=int(value("seed") or defaults.seed),
        workers=int(value("workers") or defaults.workers),
        candidates=tuple(c.strip() for c in candidates.split(",") if c.strip())
        if candidates
        else CANDIDATES,
    )


def read_channel(directory: Path) -> pd.DataFrame:
    """Every CSV/Parquet file of the channel, concatenated (one per tenant-metric, or one batch)."""
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in {".csv", ".parquet"} and p.is_file() and p.name != DRIVERS_FILE
    )
    if not files:
        raise FileNotFoundError(f"no .csv or .parquet file in the train channel {directory}")
    frames = [
        pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype={"value": "object"})
        for p in files
    ]
    data = pd.concat(frames, ignore_index=True)
    missing = [c for c in REQUIRED_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"the train channel lacks the columns {missing}")
    data["tenant_id"] = data["tenant_id"].astype(str)
    data["metric"] = data["metric"].astype(str)
    if "country" not in data.columns:
        data["country"] = DEFAULT_COUNTRY
    if "subdivision" not in data.columns:
        data["subdivision"] = None
    return data


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON (nor jsonb): they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def read_drivers(directory: Path) -> pd.DataFrame | None:
    """The channel's drivers (``DRIVERS_FILE``), if the batch has any."""
    path = directory / DRIVERS_FILE
    return pd.read_parquet(path) if path.exists() else None


def read_plans(directory: Path) -> dict[tuple[str, str], SeriesPlan]:
    """The channel's plans (``PLANS_FILE``): a list of ``SeriesPlan`` with tenant and metric.
    Without it every series runs the tournament."""
    path = directory / PLANS_FILE
    if not path.exists():
        return {}
    return {
        (str(raw["tenant_id"]), str(raw["metric"])): SeriesPlan.from_dict(raw)
        for raw in json.loads(path.read_text())
    }


def tenant_drivers(drivers: pd.DataFrame | None) -> dict[str, Drivers]:
    """Per tenant: its bookings, and its event and promotion days (closures are apart)."""
    if drivers is None or drivers.empty:
        return {}
    frame = drivers.assign(
        tenant_id=drivers["tenant_id"].astype(str),
        date=pd.to_datetime(drivers["date"]),
        booked_on=pd.to_datetime(drivers["booked_on"]),
    )
    out = {}
    for tenant, rows in frame.groupby("tenant_id"):
        booked = rows[rows["kind"] == "booking"]
        flagged = rows.loc[rows["kind"].isin(["event", "promotion"]), "date"]
        out[str(tenant)] = Drivers(
            pd.DataFrame(
                {
                    "visit_date": booked["date"].to_numpy(),
                    "booked_on": booked["booked_on"].to_numpy(),
                    "covers": booked["covers"].astype("float64").to_numpy(),
                }
            ),
            tuple(pd.Timestamp(d) for d in sorted(set(flagged))),
        )
    return out


def closures(drivers: pd.DataFrame | None) -> set[tuple[str, pd.Timestamp]]:
    """The (tenant, day) pairs the restaurant said it is closed."""
    if drivers is None or drivers.empty:
        return set()
    shut = drivers[drivers["kind"] == "closed"]
    return set(zip(shut["tenant_id"].astype(str), pd.to_datetime(shut["date"]), strict=True))


def series_jobs(data: pd.DataFrame, drivers: pd.DataFrame | None = None) -> list[SeriesJob]:
    """One job per tenant and metric. A day the restaurant said it was closed is unknown, not
    zero demand: the models must not learn from it, and the scores must not count it."""
    known = tenant_drivers(drivers)
    shut = closures(drivers)
    jobs = []
    for (tenant_id, metric), rows in data.groupby(["tenant_id", "metric"], sort=True):
        countries = rows["country"].dropna().unique()
        country = str(countries[0]) if len(countries) else DEFAULT_COUNTRY
        regions = rows["subdivision"].dropna().unique() if "subdivision" in rows else []
        subdivision = str(regions[0]) if len(regions) else None
        history = rows[["date", "value"]].reset_index(drop=True)
        if shut:
            days = pd.to_datetime(history["date"])
            closed = [(str(tenant_id), day) in shut for day in days]
            history.loc[closed, "value"] = float("nan")
        jobs.append(
            SeriesJob(
                str(tenant_id),
                str(metric),
                country,
                history,
                known.get(str(tenant_id)),
                subdivision,
            )
        )
    return jobs


def outcome_entry(job: SeriesJob, outcome: Any, model_dir: Path) -> dict[str, Any]:
    """A series' line of the job's results (what ``demand_models`` registers); its model saved
    under ``model_dir``."""
    entry: dict[str, Any] = {"tenant_id": job.tenant_id, "metric": job.metric}
    try:
        if isinstance(outcome, SeriesFailure):
            entry |= {"status": "failed", "error": outcome.error, "traceback": outcome.traceback}
        else:
            path = outcome.save(model_dir / job.tenant_id / job.metric)
            entry |= {
                "status": "succeeded",
                "champion": outcome.kind,
                "mode": outcome.backtest.get("selection", {}).get("mode", "select"),
                "country": job.country,
                "model_path": str(path.relative_to(model_dir)),
                "last_observed_date": outcome.last_observed_date.date().isoformat(),
                "backtest": outcome.backtest,
            }
    except Exception as exc:  # noqa: BLE001 - one tenant's failure must not fail the batch
        entry |= {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=5),
        }
    entry["seconds"] = (entry.get("backtest") or {}).get("seconds", 0.0)
    return _json_safe(entry)


def _checkpointed(checkpoints: Path | None) -> dict[tuple[str, str], dict[str, Any]]:
    """Series a previous run of this job finished: their entries, keyed by tenant and metric."""
    if checkpoints is None or not (checkpoints / CHECKPOINT_RESULTS).exists():
        return {}
    done: dict[tuple[str, str], dict[str, Any]] = {}
    for line in (checkpoints / CHECKPOINT_RESULTS).read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the line being written when the instance was reclaimed
            continue
        done[(entry["tenant_id"], entry["metric"])] = entry
    return done


def _checkpoint(checkpoints: Path, entries: list[dict[str, Any]], model_dir: Path) -> None:
    """Models first, then their result lines: a line is only there once its model is."""
    for entry in entries:
        if entry.get("model_path"):
            source = model_dir / entry["tenant_id"] / entry["metric"]
            shutil.copytree(
                source,
                checkpoints / "models" / entry["tenant_id"] / entry["metric"],
                dirs_exist_ok=True,
            )
    with (checkpoints / CHECKPOINT_RESULTS).open("a") as sink:
        sink.writelines(json.dumps(entry) + "\n" for entry in entries)
        sink.flush()
        os.fsync(sink.fileno())


def _resume(entry: dict[str, Any], checkpoints: Path, model_dir: Path) -> dict[str, Any]:
    if entry.get("model_path"):
        shutil.copytree(
            checkpoints / "models" / entry["tenant_id"] / entry["metric"],
            model_dir / entry["tenant_id"] / entry["metric"],
            dirs_exist_ok=True,
        )
    return {**entry, "resumed": True}


def train_batch(
    data: pd.DataFrame,
    config: TrainingConfig,
    model_dir: Path,
    checkpoints: Path | None = None,
    chunk: int = CHECKPOINT_SERIES,
    drivers: pd.DataFrame | None = None,
    plans: Mapping[tuple[str, str], SeriesPlan] | None = None,
) -> list[dict[str, Any]]:
    """Train every tenant-metric of ``data`` (one global model per chunk); save each champion.
    ``drivers``: the tenants' bookings and told days (``fct_demand_drivers``), if any.

    With ``checkpoints``, series finished by an earlier, interrupted run are taken from there.
    """
    started = time.perf_counter()
    jobs = series_jobs(data, drivers)
    done = _checkpointed(checkpoints)
    if done:
        log.info("resuming: %d of %d series already trained (checkpoints)", len(done), len(jobs))
    remaining = [job for job in jobs if (job.tenant_id, job.metric) not in done]
    finished: dict[tuple[str, str], dict[str, Any]] = {}
    for first in range(0, len(remaining), max(1, chunk)):
        part = remaining[first : first + max(1, chunk)]
        entries = [
            outcome_entry(job, outcome, model_dir)
            for job, outcome in zip(part, train_series(part, config, plans=plans), strict=True)
        ]
        if checkpoints is not None:
            _checkpoint(checkpoints, entries, model_dir)
        for entry in entries:
            finished[(entry["tenant_id"], entry["metric"])] = entry
            log.info(
                "[%d/%d] %s %s: %s (%s)",
                len(finished) + len(done),
                len(jobs),
                entry["tenant_id"],
                entry["metric"],
                entry["status"],
                entry.get("champion") or entry.get("error"),
            )
    results = []
    for key in ((job.tenant_id, job.metric) for job in jobs):
        if key in finished:
            results.append(finished[key])
        else:
            assert checkpoints is not None  # only checkpoints make a series done beforehand
            results.append(_resume(done[key], checkpoints, model_dir))
    log.info("batch of %d series in %.1fs", len(jobs), time.perf_counter() - started)
    return results


def main(env: Mapping[str, str] = os.environ) -> int:
    apply_worker_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    paths = sagemaker_paths(env)
    try:
        config = read_hyperparameters(paths["hyperparameters"])
        data = read_channel(paths["train"])
        paths["model"].mkdir(parents=True, exist_ok=True)
        paths["output"].mkdir(parents=True, exist_ok=True)
        checkpoints = paths["checkpoints"] if paths["checkpoints"].is_dir() else None
        chunk = hyperparameters(paths["hyperparameters"]).get("checkpoint_series")
        results = train_batch(
            data,
            config,
            paths["model"],
            checkpoints,
            int(chunk or CHECKPOINT_SERIES),
            read_drivers(paths["train"]),
            read_plans(paths["train"]),
        )
        document = json.dumps({"config": _json_safe(vars(config)), "results": results}, indent=1)
        (paths["model"] / RESULTS_FILE).write_text(document)
        (paths["output"] / RESULTS_FILE).write_text(document)
    except Exception as exc:  # noqa: BLE001 - SageMaker reads the reason from the failure file
        paths["failure"].parent.mkdir(parents=True, exist_ok=True)
        paths["failure"].write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        log.exception("training job failed")
        return 1
    failed = sum(r["status"] == "failed" for r in results)
    log.info("trained %d tenant-metrics, %d failed", len(results) - failed, failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
