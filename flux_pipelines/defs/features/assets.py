"""The dbt models as Dagster assets: ``dbt build`` runs the models and their tests (asset checks).

In a tenant run (an upload's, ``flux run``'s) dbt rebuilds and tests the run's tenants only
(``FLUX_DBT_TENANTS``, ``dbt_project/macros/tenant_scope.sql``): a run costs what its tenants hold, not
what every tenant holds. Materialized outside a tenant run (the UI's features group), the models
are rebuilt for every tenant from scratch (``--full-refresh``), as a change of their columns needs.

dbt connects as the pipeline role (RLS lets it read every tenant) with the connection Flux's
settings give, handed over as the ``FLUX_DBT_*`` variables that ``dbt_project/profiles.yml`` reads.
"""

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster_dbt import DbtCliResource, dbt_assets

from flux_core.db.connections import get_engine, role_url
from flux_core.settings import FluxSettings, get_settings
from flux_pipelines.defs.features.project import flux_dbt_project
from flux_pipelines.defs.features.translator import FluxDbtTranslator
from flux_pipelines.defs.tenants import run_tenants

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# The last model of the graph: when it exists, every model has been built once.
LAST_MODEL = "analytics.features_daily"
_FIRST_BUILD_LOCK = 0x466C7578_4442  # "FluxDB"


@contextmanager
def first_build_alone(settings: FluxSettings) -> Iterator[None]:
    """Two runs building the models for the first time at once raced to create the same tables
    (seen on a fresh install with two upload runs: 'Database Error creating fct_daily_demand').
    While the models do not exist yet, a build holds a PostgreSQL advisory lock; the other waits,
    then finds the tables and builds its tenants into them."""
    with get_engine("pipeline", settings).connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(sa.select(sa.func.to_regclass(LAST_MODEL))).scalar() is not None:
            yield
            return
        conn.execute(sa.select(sa.func.pg_advisory_lock(_FIRST_BUILD_LOCK)))
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(_FIRST_BUILD_LOCK)))


def dbt_connection_env(settings: FluxSettings) -> dict[str, str]:
    url = role_url(settings, "pipeline")
    return {
        "FLUX_DBT_HOST": url.host or "127.0.0.1",
        "FLUX_DBT_PORT": str(url.port or 5432),
        "FLUX_DBT_USER": url.username or "flux_pipeline",
        "FLUX_DBT_PASSWORD": url.password or "",
        "FLUX_DBT_DBNAME": url.database or "flux",
    }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables around a dbt CLI start: DbtCliResource gives dbt a copy of os.environ."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=flux_dbt_project().manifest_path,
    project=flux_dbt_project(),
    dagster_dbt_translator=FluxDbtTranslator(),
)
def flux_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    tenants = run_tenants(context.run.tags, context.instance)
    if tenants is None:
        context.log.info("not a tenant run: every tenant rebuilt (--full-refresh)")
        args, scope = ["build", "--full-refresh"], ""
    else:
        context.log.info(f"{len(tenants)} tenant(s) rebuilt")
        args, scope = ["build"], json.dumps(tenants)
    # Settings are read at run time, not import time: tests point FLUX_DATABASE_URL elsewhere.
    settings = get_settings()
    with first_build_alone(settings):
        with environment({**dbt_connection_env(settings), "FLUX_DBT_TENANTS": scope}):
            invocation = dbt.cli(args, context=context)
        yield from invocation.stream()
    # dagster-dbt reports models and data tests as events, unit tests not at all: the log says.
    results = invocation.get_artifact("run_results.json")["results"]
    unit_tests = sorted(
        f"{r['unique_id'].split('.')[-1]} {r['status']}"
        for r in results
        if r["unique_id"].startswith("unit_test.")
    )
    context.log.info(f"dbt unit tests: {', '.join(unit_tests) or 'none selected'}")
    keep_parse_state(invocation.target_path)
    # Each invocation writes its own target folder (manifest, compiled SQL, run results: about
    # 5 MB), 100 a night with 10,000 restaurants uploading. What it did is in the run's events;
    # the folder is kept only when the build fails (the stream raises before this), to debug it.
    shutil.rmtree(invocation.target_path, ignore_errors=True)


def keep_parse_state(target_path: Path) -> None:
    """The build's parse state becomes the next build's start: dagster-dbt copies the project's
    ``target/partial_parse.msgpack`` into each invocation's folder, and dbt then parses only the
    files changed since (about 3 s instead of 8-10 s, on every run). It comes from a real build
    because dbt parses everything again when the connection's variables differ from the state's;
    a state that no longer fits (files, dbt version) dbt detects and ignores. Replaced in one step:
    a build starting meanwhile copies the old file or the new one, never half of one."""
    state = target_path / PARTIAL_PARSE_FILE
    if state.exists():
        project = flux_dbt_project()
        os.replace(state, project.project_dir / project.target_path / PARTIAL_PARSE_FILE)
