"""Flux's Dagster code location, its command line and the servers it starts."""
