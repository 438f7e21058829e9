"""MLflow registration on the test PostgreSQL: versions, @champion, flux.model_versions."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd
import psycopg
import sqlalchemy as sa
from test_training_synthetic import features_frame, synthetic_series

from flux_core.db.connections import plain_url
from flux_core.db.migrate import ensure_service_databases
from flux_core.db.tables import model_versions
from flux_core.settings import FluxSettings, get_settings
from flux_core.training.entrypoint import train_batch
from flux_core.training.registry import (
    CHALLENGER,
    ModelRegistry,
    registered_model_name,
)
from flux_core.training.train import TrainingConfig

CONFIG = TrainingConfig(
    horizon=14, windows=2, seed=3, candidates=("seasonal_naive", "xgboost"), workers=1
)


def test_each_training_is_a_version_and_the_latest_is_the_one_champion(
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant: Callable[..., UUID],
    tmp_path: Path,
) -> None:
    tenant = make_tenant()
    registry = ModelRegistry(settings)
    versions = []
    for attempt in range(2):
        history = synthetic_series(90 + 7 * attempt, seed=attempt)
        data = features_frame(str(tenant), "sales", history)
        [result] = train_batch(data, CONFIG, tmp_path / str(attempt))
        path = tmp_path / str(attempt) / result["model_path"]
        versions.append(registry.register(pipeline_engine, result, path))

    assert [v.version for v in versions] == [1, 2]
    assert registry.champion_version(tenant, "sales") == 2
    name = registered_model_name(tenant, "sales")
    assert registry.alias_version(name, CHALLENGER) == 1  # the previous champion
    model, number = registry.load_champion(tenant, "sales")
    assert number == 2 and model.tenant_id == str(tenant)
    forecast = model.predict(model.future_dates(14))
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()

    with pipeline_engine.connect() as conn:
        rows = (
            conn.execute(sa.select(model_versions).where(model_versions.c.tenant_id == tenant))
            .mappings()
            .all()
        )
    assert sorted((r["version"], r["is_champion"]) for r in rows) == [(1, False), (2, True)]
    champion = next(r for r in rows if r["is_champion"])
    assert champion["model_name"] == registered_model_name(tenant, "sales")
    assert champion["mlflow_run_id"] == versions[1].run_id
    assert champion["model_kind"] == versions[1].kind
    assert set(champion["backtest"]["candidates"]) == {"seasonal_naive", "xgboost"}
    assert champion["baseline_wape"] == champion["backtest"]["candidates"]["seasonal_naive"]["wape"]
    assert champion["wape"] <= champion["baseline_wape"]
    run = registry.client.get_run(versions[1].run_id)
    assert "seasonal_naive.wape" in run.data.metrics
    for accuracy in ("wape", "mase", "rmsle", "bias", "coverage_p10_p90", "baseline_wape"):
        assert run.data.metrics[accuracy] == champion["backtest"]["accuracy"][accuracy]
    assert run.data.params["challenger_kind"] == champion["backtest"]["challenger"]
    assert pd.notna(run.data.metrics[f"{versions[1].kind}.wape"])
    # The version's logged model carries the same metrics, and its environment is the pinned
    # serving packages, not a copy of whatever uv project the job ran in.
    source = registry.client.get_model_version(name, "2").source
    logged = registry.client.get_logged_model(source.removeprefix("models:/"))
    assert {m.key: m.value for m in logged.metrics} == run.data.metrics
    stored = {a.path for a in registry.client.list_logged_model_artifacts(logged.model_id)}
    assert "requirements.txt" in stored and not {"uv.lock", "pyproject.toml"} & stored


def _open_registry(database_url: str, start: Any) -> None:
    """A run starting on a new store: sets the store up as its registry opens."""
    os.environ["FLUX_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    start.wait()
    ModelRegistry(get_settings())


def test_two_runs_starting_together_both_set_up_a_new_store(
    settings: FluxSettings, owner_url: str
) -> None:
    """The nightly starts two runs at once: on a new MLflow store both would create its tables."""
    database = f"{sa.make_url(owner_url).database}_store"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database}_mlflow" with (force)')
        conn.execute(f'drop database if exists "{database}" with (force)')
        conn.execute(f'create database "{database}" owner flux_owner')
    url = plain_url(sa.make_url(owner_url).set(database=database))
    ensure_service_databases(settings.model_copy(update={"database_url": url}))
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    runs = [context.Process(target=_open_registry, args=(url, start)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert [run.exitcode for run in runs] == [0, 0]
    registry = ModelRegistry(settings.model_copy(update={"database_url": url}))
    assert registry.client.get_experiment_by_name("Default") is not None  # MLflow's own, made once
