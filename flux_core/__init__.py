"""Flux's domain, owned by no framework: neither Dagster nor FastAPI is imported here."""
