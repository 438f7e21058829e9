"""The features area: the dbt assets, the public holidays, and the ``dbt`` resource."""

import dagster as dg
from dagster_dbt import DbtCliResource

from flux_pipelines.defs.features.assets import flux_dbt_models
from flux_pipelines.defs.features.holidays import public_holidays
from flux_pipelines.defs.features.project import dbt_executable, flux_dbt_project

defs = dg.Definitions(assets=[public_holidays, flux_dbt_models])


def resources() -> dict[str, object]:
    """The resources this stage needs beyond ``database``: ``dbt``, the CLI over our project."""
    return {"dbt": DbtCliResource(project_dir=flux_dbt_project(), dbt_executable=dbt_executable())}
