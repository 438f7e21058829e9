"""The dbt project (``dbt_project/``) as Dagster sees it, with a manifest that is always there.

``target/`` is git-ignored, so a fresh clone has no ``manifest.json``, and ``@dbt_assets`` needs
one when the definitions load. ``DbtProject.prepare_if_dev`` acts only under ``dagster dev`` and
looks for ``dbt`` on PATH (absent when the virtualenv is not activated); so the manifest is parsed
here, with the virtualenv's dbt, whenever it is missing or older than the project's sources.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from flux_core.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
_SOURCE_DIRS = ("models", "macros", "tests")
_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), else the one on PATH."""
    beside_python = Path(sys.executable).parent / "dbt"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("dbt") or "dbt"


def _newest_source_mtime(project_dir: Path) -> float:
    paths = [project_dir / name for name in _SOURCE_FILES]
    for folder in _SOURCE_DIRS:
        paths.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def manifest_is_current(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    return manifest.stat().st_mtime >= _newest_source_mtime(project.project_dir)


def parse_manifest(project: DbtProject) -> None:
    """``dbt parse`` into a scratch folder, then move the manifest in place in one step, so that a
    process loading the definitions at the same moment never reads a half-written file.
    ``dbt parse`` reads the profile but never connects: the FLUX_DBT_* defaults suffice."""
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parse-", dir=target) as scratch:
        dbt = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
        dbt.cli(["parse", "--quiet"], target_path=Path(scratch)).wait()
        os.replace(Path(scratch) / "manifest.json", project.manifest_path)


def prepared_project(project_dir: Path) -> DbtProject:
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    if not manifest_is_current(project):
        parse_manifest(project)
    return project


@cache
def flux_dbt_project() -> DbtProject:
    return prepared_project(DBT_PROJECT_DIR)
