"""The training area: ``demand_models``, its checks, and the ``training_backend`` resource."""

import dagster as dg

from flux_pipelines.defs.training.assets import demand_models
from flux_pipelines.defs.training.checks import champions_current
from flux_pipelines.defs.training.resources import TrainingBackendResource

defs = dg.Definitions(assets=[demand_models], asset_checks=[champions_current])


def resources() -> dict[str, dg.ConfigurableResource]:
    """What the top-level Definitions must provide for this folder (besides ``database``)."""
    return {"training_backend": TrainingBackendResource()}
