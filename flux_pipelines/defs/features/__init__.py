"""Features: the dbt models as Dagster assets, and the holidays they read."""
