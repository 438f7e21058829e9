"""The SageMaker entrypoint run through LocalTrainingBackend: one job, a batch of tenants."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
from test_training_synthetic import features_frame, synthetic_series

from flux_core.training.backends import LocalTrainingBackend, TrainingJobFailed
from flux_core.training.entrypoint import (
    CHECKPOINT_RESULTS,
    read_hyperparameters,
    train_batch,
)
from flux_core.training.model import load_demand_model
from flux_core.training.train import TrainingConfig


def _negative(history: pd.DataFrame) -> pd.DataFrame:
    history.loc[20, "value"] = -5.0
    return history


def test_one_job_trains_the_batch_and_records_the_bad_tenant(tmp_path: Path) -> None:
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    data = pd.concat(
        [
            features_frame(good, "sales", synthetic_series(120, seed=1)),
            features_frame(good, "covers", synthetic_series(120, seed=2, level=40)),
            features_frame(bad, "sales", _negative(synthetic_series(60, seed=3))),  # bad data
        ],
        ignore_index=True,
    )
    job = LocalTrainingBackend().train(
        data,
        {
            "horizon": 14,
            "backtest_windows": 2,
            "seed": 1,
            "candidates": "seasonal_naive,weekday_median,xgboost,global_xgboost",
            "workers": 1,
        },
        job_name="test-batch",
        workdir=tmp_path,
    )
    by_key = {(r["tenant_id"], r["metric"]): r for r in job.results}
    assert set(by_key) == {(good, "sales"), (good, "covers"), (bad, "sales")}
    assert by_key[(bad, "sales")]["status"] == "failed"
    assert "negative values" in by_key[(bad, "sales")]["error"]
    for metric in ("sales", "covers"):
        result = by_key[(good, metric)]
        assert result["status"] == "succeeded"
        model = load_demand_model(job.model_path(result))
        assert (model.tenant_id, model.metric, model.kind) == (good, metric, result["champion"])
        assert len(model.predict(model.future_dates(14))) == 14
        assert len(result["backtest"]["windows"]) == 2
    # SageMaker's layout: the model dir and the output data dir both carry the results.
    assert (tmp_path / "opt-ml" / "input" / "config" / "hyperparameters.json").exists()
    outputs = json.loads((job.output_dir / "results.json").read_text())
    assert outputs["config"]["horizon"] == 14
    assert not (job.model_dir / bad).exists()


def test_a_job_without_data_fails_with_its_reason(tmp_path: Path) -> None:
    empty = features_frame(str(uuid.uuid4()), "sales", synthetic_series(10)).iloc[0:0]
    empty = empty.drop(columns=["value"])
    with pytest.raises(TrainingJobFailed, match="lacks the columns"):
        LocalTrainingBackend().train(empty, {}, job_name="test-empty", workdir=tmp_path)
    assert (tmp_path / "opt-ml" / "output" / "failure").exists()


def test_hyperparameters_arrive_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(
        json.dumps({"horizon": '"21"', "seed": "5", "candidates": "seasonal_naive,xgboost"})
    )
    config = read_hyperparameters(path)
    assert (config.horizon, config.seed, config.windows) == (21, 5, 3)
    assert tuple(config.candidates) == ("seasonal_naive", "xgboost")


def test_a_restarted_job_takes_finished_series_from_its_checkpoints(tmp_path: Path) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    a = features_frame(first, "sales", synthetic_series(90, seed=4))
    b = features_frame(second, "sales", synthetic_series(90, seed=5))
    config = TrainingConfig(
        horizon=7, windows=2, seed=3, workers=1, candidates=("seasonal_naive", "weekday_median")
    )
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    # The interrupted run got as far as the first series (a chunk of one series each).
    before = train_batch(a, config, tmp_path / "model-1", checkpoints, chunk=1)
    saved = checkpoints / "models" / first / "sales"
    stamp = {p: p.stat().st_mtime_ns for p in saved.rglob("*") if p.is_file()}
    assert stamp and before[0]["status"] == "succeeded"
    # A line cut short when the instance was reclaimed is not taken as done.
    with (checkpoints / CHECKPOINT_RESULTS).open("a") as sink:
        sink.write('{"tenant_id": "' + second)

    restarted = train_batch(
        pd.concat([a, b], ignore_index=True), config, tmp_path / "model-2", checkpoints, chunk=1
    )
    by_tenant = {r["tenant_id"]: r for r in restarted}
    assert by_tenant[first].get("resumed") is True
    assert "resumed" not in by_tenant[second] and by_tenant[second]["status"] == "succeeded"
    assert by_tenant[first]["champion"] == before[0]["champion"]
    # The resumed model is the checkpointed one (not refitted), now in this run's model folder.
    assert {p: p.stat().st_mtime_ns for p in saved.rglob("*") if p.is_file()} == stamp
    model = load_demand_model(tmp_path / "model-2" / by_tenant[first]["model_path"])
    assert (model.tenant_id, model.kind) == (first, before[0]["champion"])
    lines = (checkpoints / CHECKPOINT_RESULTS).read_text().splitlines()
    assert sum(second in line and line.endswith("}") for line in lines) == 1
