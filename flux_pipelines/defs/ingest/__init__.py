"""Ingest: the sensor, assets and checks that turn landed uploads into staged rows."""
