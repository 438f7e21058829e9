"""The training and forecasting definitions load, with their partitions, policy and deps."""

from __future__ import annotations

import dagster as dg

from flux_pipelines.defs.forecasts import definitions as forecasts
from flux_pipelines.defs.resources import FluxDatabase
from flux_pipelines.defs.tenants import tenants_partitions
from flux_pipelines.defs.training import definitions as training


def test_definitions_load_with_batched_tenant_partitions() -> None:
    defs = dg.Definitions.merge(
        training.defs,
        forecasts.defs,
        dg.Definitions(
            resources={"database": FluxDatabase(), **training.resources(), **forecasts.resources()}
        ),
    )
    graph = defs.resolve_asset_graph()
    models = graph.get(dg.AssetKey("demand_models"))
    predictions = graph.get(dg.AssetKey("demand_forecasts"))
    for node in (models, predictions):
        assert node.partitions_def == tenants_partitions
        assert node.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=100)
    assert dg.AssetKey("features_daily") in models.parent_keys
    assert dg.AssetKey("demand_models") in predictions.parent_keys
    defs.resolve_all_job_defs()
