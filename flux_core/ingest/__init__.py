"""Ingest: receiving an upload, loading its valid rows into staging once, and keeping its rejections."""
