"""The one code location: each area's ``defs/<area>/definitions.py``, merged.

Each area brings its own assets, sensors, schedules, checks and resources, as in
dagster-open-platform. They are merged by hand rather than by ``dg.load_from_defs_folder``:
its discovery of component libraries cost 1.4 s more in every process that loads this module
(every run, every sensor tick's code server), and the areas are five.
"""

import dagster as dg

from flux_pipelines.defs.batches import BATCH
from flux_pipelines.defs.features import definitions as features
from flux_pipelines.defs.forecasts import definitions as forecasts
from flux_pipelines.defs.ingest import definitions as ingest
from flux_pipelines.defs.orchestration import definitions as orchestration
from flux_pipelines.defs.training import definitions as training
from flux_pipelines.instance import batch_partition_events

# A run of BATCH tenants records a materialization per tenant partition of each asset: one write
# for them all. Every run's process loads this module.
batch_partition_events(BATCH)

defs = dg.Definitions.merge(
    ingest.defs, features.defs, training.defs, forecasts.defs, orchestration.defs
)
