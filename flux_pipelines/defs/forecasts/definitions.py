import dagster as dg

from flux_pipelines.defs.forecasts.assets import demand_forecasts

defs = dg.Definitions(assets=[demand_forecasts])


def resources() -> dict[str, dg.ConfigurableResource]:
    """Nothing beyond ``database``, which the top-level Definitions already provide."""
    return {}
