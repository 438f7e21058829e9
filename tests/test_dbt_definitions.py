"""The features stage's definitions: asset keys, groups and lineage as the rest of the graph expects
them, and a dbt manifest that appears on a fresh clone (where ``target/`` does not exist)."""

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

from flux_core.training.features import TRAINING_COLUMNS
from flux_pipelines.defs.features.definitions import defs, resources
from flux_pipelines.defs.features.project import DBT_PROJECT_DIR, prepared_project
from flux_pipelines.defs.resources import FluxDatabase

MODELS = {
    "stg_uploads__sales",
    "stg_uploads__item_sales",
    "stg_flux__tenants",
    "stg_flux__public_holidays",
    "int_sales_daily_filled",
    "fct_daily_demand",
    "features_daily",
    "stg_uploads__bookings",
    "stg_flux__calendar_days",
    "fct_demand_drivers",
}


def _graph() -> AssetGraph:
    merged = dg.Definitions.merge(
        defs, dg.Definitions(resources={"database": FluxDatabase(), **resources()})
    )
    return merged.resolve_asset_graph()


def test_models_are_keyed_by_name_in_the_features_group() -> None:
    graph = _graph()
    materializable = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
    }
    assert materializable == MODELS | {"public_holidays"}
    for name in materializable:
        assert graph.get(dg.AssetKey(name)).group_name == "features"


def test_lineage_joins_the_python_assets() -> None:
    graph = _graph()

    def parents(name: str) -> set[str]:
        return {key.to_user_string() for key in graph.get(dg.AssetKey(name)).parent_keys}

    assert parents("stg_uploads__sales") == {"staged_sales"}
    assert parents("stg_uploads__item_sales") == {"staged_item_sales"}
    assert parents("stg_flux__public_holidays") == {"public_holidays"}
    assert parents("features_daily") == {"fct_daily_demand"}
    assert parents("stg_uploads__bookings") == {"staged_bookings"}
    assert parents("fct_demand_drivers") == {"stg_uploads__bookings", "stg_flux__calendar_days"}
    assert {"int_sales_daily_filled", "stg_flux__public_holidays"} <= parents("fct_daily_demand")


def test_dbt_tests_are_asset_checks_on_the_models() -> None:
    graph = _graph()
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert {
        "features_daily",
        "fct_daily_demand",
        "int_sales_daily_filled",
        "stg_uploads__item_sales",
    } <= checked


def test_a_fresh_clone_gets_a_manifest_and_a_stale_one_is_reparsed(tmp_path: Path) -> None:
    clone = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, clone, ignore=shutil.ignore_patterns("target", "logs"))

    project = prepared_project(clone)
    assert project.manifest_path.is_file()
    first = project.manifest_path.stat().st_mtime

    model = clone / "models" / "marts" / "features_daily.sql"
    later = time.time() + 5
    os.utime(model, (later, later))
    prepared_project(clone)
    assert project.manifest_path.stat().st_mtime > first


def test_the_features_marts_yaml_says_which_columns_training_reads() -> None:
    manifest = json.loads(prepared_project(DBT_PROJECT_DIR).manifest_path.read_text())
    columns = manifest["nodes"]["model.flux.features_daily"]["columns"]
    readers = {name: column["config"]["meta"].get("read_by") for name, column in columns.items()}
    assert {name for name, who in readers.items() if who == "training"} == set(TRAINING_COLUMNS)
    assert set(readers.values()) == {"training", "analysts"}  # every column says who reads it
