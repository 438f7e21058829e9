"""Flux's HTTP API: FastAPI only, on the domain in ``flux_core``."""
