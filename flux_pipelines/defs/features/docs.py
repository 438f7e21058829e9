"""dbt's documentation site for analysts: every model and column, its tests, and the lineage graph.

``dbt docs generate`` reads the live catalog (column types, row counts) through the pipeline role,
so the site shows what the marts hold in this database, not only what the YAML says.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from flux_core.settings import FluxSettings
from flux_pipelines.defs.features.assets import dbt_connection_env
from flux_pipelines.defs.features.project import DBT_PROJECT_DIR, dbt_executable


def docs_dir(settings: FluxSettings) -> Path:
    return settings.home / "dbt-docs"


def _dbt(settings: FluxSettings, *args: str) -> list[str]:
    return [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(docs_dir(settings)),
    ]


def _env(settings: FluxSettings) -> dict[str, str]:
    return {**os.environ, **dbt_connection_env(settings)}


def generate_docs(settings: FluxSettings) -> Path:
    """The site's folder (``index.html``, ``manifest.json``, ``catalog.json``)."""
    subprocess.run(
        _dbt(settings, "docs", "generate", "--quiet"),
        env=_env(settings),
        cwd=DBT_PROJECT_DIR,
        check=True,
    )
    return docs_dir(settings)


def serve_docs(settings: FluxSettings, host: str, port: int) -> None:
    """Serves the generated site until interrupted."""
    subprocess.run(
        _dbt(settings, "docs", "serve", "--no-browser", "--host", host, "--port", str(port)),
        env=_env(settings),
        cwd=DBT_PROJECT_DIR,
        check=True,
    )
