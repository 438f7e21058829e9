"""The forecasts area: ``demand_forecasts`` and its checks."""

import dagster as dg

from flux_pipelines.defs.forecasts.assets import demand_forecasts
from flux_pipelines.defs.forecasts.checks import forecasts_current

defs = dg.Definitions(assets=[demand_forecasts], asset_checks=[forecasts_current])


def resources() -> dict[str, dg.ConfigurableResource]:
    """Nothing beyond ``database``, which the top-level Definitions already provide."""
    return {}
