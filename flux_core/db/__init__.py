"""Flux's PostgreSQL: the local cluster, connection URLs per role, and migrations."""
