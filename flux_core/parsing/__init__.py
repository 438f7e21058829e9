"""Parsing and validating uploaded sales (and booking) files: bytes in, DataFrames and rejected
lines out.

Pure: no database, no landing zone. ``upload.parse_upload`` recognises the export by its header
(or an explicit column mapping), reads it in chunks, and returns the valid data aggregated per day.
Nothing is imported here, so that the API can import ``spreadsheet`` and ``errors`` without pandas.
"""
