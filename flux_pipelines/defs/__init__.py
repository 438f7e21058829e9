"""Dagster definitions, one folder per stage: ingest, features (dbt), training, forecasts."""
