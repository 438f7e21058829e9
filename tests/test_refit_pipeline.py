"""Refit nightly, reselect when it matters, through the real runs: an upload of one new day refits
the champion (a new MLflow version naming its selection), the forecast shown for that day is kept
beside its actual and scored by ``GET /v1/accuracy``, a correction reopens the tournament, and a
run without new days trains nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from api_fixtures import MakeMember
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from flux_api.main import create_app
from flux_core.db.tables import forecast_outcomes, model_versions
from flux_core.demo import RESTAURANTS, demo_sales
from flux_core.settings import FluxSettings
from flux_core.training.registry import registered_model_name, tracking_uri
from flux_pipelines.defs.tenants import TENANTS


@pytest.fixture
def client(settings: FluxSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _champions(engine: sa.Engine, tenant: UUID) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.tenant_id == tenant, model_versions.c.is_champion
            )
        ).all()
    return {row.metric: row for row in rows}


def test_a_new_day_refits_a_correction_reselects_and_no_day_keeps(
    settings: FluxSettings,
    pipeline_engine: sa.Engine,
    make_tenant,
    make_member: MakeMember,
    client: TestClient,
    instance: dg.DagsterInstance,
) -> None:
    from flux_pipelines.definitions import defs

    tenant, other = make_tenant("Refit Bistro"), make_tenant()
    owner, chef = make_member(tenant, "owner"), make_member(tenant, "chef")
    stranger = make_member(other, "owner")
    today = dt.date.today()
    full = demo_sales(RESTAURANTS[1], today - dt.timedelta(days=1)).tail(161)
    history, last = full.iloc[:-1], full.iloc[-1:].assign(date=str(today))
    job = defs.resolve_job_def("ingest_to_forecast")
    instance.add_dynamic_partitions(TENANTS, [str(tenant)])

    def upload_and_run(frame: pd.DataFrame) -> dg.ExecuteInProcessResult:
        sent = client.post(
            "/v1/uploads",
            headers=owner.headers,
            files={"file": ("sales.csv", _csv(frame), "text/csv")},
        )
        assert sent.status_code == 201, sent.text
        run = job.execute_in_process(instance=instance, partition_key=str(tenant))
        assert run.success
        return run

    def models_metadata(run: dg.ExecuteInProcessResult) -> dict[str, Any]:
        [materialization] = run.asset_materializations_for_node("demand_models")
        return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}

    first = upload_and_run(history)
    selected = _champions(pipeline_engine, tenant)
    assert {m: c.backtest["selection"]["mode"] for m, c in selected.items()} == {
        "sales": "select",
        "covers": "select",
    }
    assert models_metadata(first)["series_reselected"] == 2
    assert client.get("/v1/accuracy", headers=owner.headers).json() == []

    # One new day (today's, which the first forecast covered): the champions are refitted.
    refit = models_metadata(upload_and_run(last))
    assert (refit["series_refitted"], refit["series_reselected"]) == (2, 0)
    refitted = _champions(pipeline_engine, tenant)
    for metric, champion in refitted.items():
        assert champion.version == selected[metric].version + 1
        assert champion.model_kind == selected[metric].model_kind
        assert champion.backtest["selection"]["mode"] == "refit"
        assert champion.backtest["selection"]["selected_version"] == selected[metric].version
        assert champion.backtest["history"]["through"] == today.isoformat()
        assert champion.backtest["windows"] == selected[metric].backtest["windows"]
    # MLflow's version says which selection it carries, and links to that selection's run
    # (its backtest's params and metrics): a refit registers only its new model file.
    mlflow = MlflowClient(tracking_uri(settings))
    name = registered_model_name(tenant, "sales")
    version = mlflow.get_model_version(name, str(refitted["sales"].version))
    selection = mlflow.get_model_version(name, str(selected["sales"].version))
    assert version.tags["selection_mode"] == "refit"
    assert version.tags["selected_version"] == str(selected["sales"].version)
    assert version.run_id == selection.run_id == refitted["sales"].mlflow_run_id
    assert version.source != selection.source
    assert mlflow.get_model_version_by_alias(name, "champion").version == version.version
    assert mlflow.get_model_version_by_alias(name, "challenger").version == selection.version

    # The forecast shown for today is kept beside today's actual, with its horizon.
    with pipeline_engine.connect() as conn:
        outcomes = {
            r.metric: r
            for r in conn.execute(
                sa.select(forecast_outcomes).where(forecast_outcomes.c.tenant_id == tenant)
            )
        }
    assert set(outcomes) == {"sales", "covers"}
    for metric, outcome in outcomes.items():
        assert outcome.date == today and outcome.horizon >= 1
        assert outcome.actual == pytest.approx(float(last[metric].iloc[0]))
        assert outcome.model_version == selected[metric].version
        assert outcome.p10 <= outcome.p50 <= outcome.p90
    shown = client.get("/v1/accuracy", headers=owner.headers)
    assert shown.status_code == 200
    rows = {(r["metric"], r["window_days"]): r for r in shown.json()}
    assert set(rows) == {(m, w) for m in ("sales", "covers") for w in (7, 28)}
    sales = outcomes["sales"]
    assert rows[("sales", 7)]["days"] == 1
    assert rows[("sales", 7)]["wape"] == pytest.approx(
        abs(sales.p50 - sales.actual) / sales.actual, rel=1e-9
    )
    assert rows[("sales", 7)]["bias"] == pytest.approx((sales.p50 - sales.actual) / sales.actual)
    assert rows[("sales", 28)]["backtest_wape"] == pytest.approx(refitted["sales"].wape)
    # Owners and managers only; another restaurant sees none of it.
    assert client.get("/v1/accuracy", headers=chef.headers).status_code == 403
    assert client.get("/v1/accuracy", headers=stranger.headers).json() == []

    # A correction of a day the champion had seen: the tournament runs again.
    corrected = history.iloc[[50]].assign(sales=lambda f: f["sales"] * 2, covers=None)
    reselect = models_metadata(upload_and_run(corrected[["date", "sales"]]))
    assert reselect["series_reselected"] >= 1
    assert any("changed" in reason for reason in reselect["reselected"].values())
    after = _champions(pipeline_engine, tenant)
    assert after["sales"].backtest["selection"]["mode"] == "select"
    assert "changed" in after["sales"].backtest["selection"]["reason"]

    # A run with no new day trains nothing: the same champions, their forecasts moved on.
    quiet = job.execute_in_process(instance=instance, partition_key=str(tenant))
    assert quiet.success
    kept = models_metadata(quiet)
    assert (kept["series_kept"], kept["tenants_trained"]) == (2, 0)
    assert {m: c.version for m, c in _champions(pipeline_engine, tenant).items()} == {
        m: c.version for m, c in after.items()
    }
