"""The files a training job reads and writes, by name: what the backends and the entrypoint agree on.

Kept apart from the entrypoint so that the process launching a job (Dagster's) does not import the
whole training stack to learn a file name.
"""

ENTRYPOINT_MODULE = "flux_core.training.entrypoint"
TRAIN_FILE = "features.parquet"
# Beside the features in the train channel: bookings and told days (fct_demand_drivers).
DRIVERS_FILE = "drivers.parquet"
RESULTS_FILE = "results.json"
# Beside them: per series, the refit or the tournament tonight (``selection.SeriesPlan``), as JSON.
PLANS_FILE = "plans.json"
