"""Parsing one uploaded file: its export recognised by the header (or a column mapping), then read
by the parser of its layout."""

from __future__ import annotations

import datetime as dt
import typing

from flux_core.parsing.bookings import parse_bookings
from flux_core.parsing.daily import parse_daily
from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.guard import GuardedReads, SourceUnavailable, refusal_for
from flux_core.parsing.layouts import (
    Layout,
    detect_layout,
    mapped_layout,
    unrecognised,
)
from flux_core.parsing.line_items import parse_line_items
from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.source import Candidate, Candidates, open_source


def _choose_header(
    candidates: Candidates, column_mapping: dict[str, str] | None
) -> tuple[Candidate, Layout]:
    if column_mapping:
        # The mapping names the header's cells: the first line holding all of them is the header.
        wanted = {v.strip().lower() for v in column_mapping.values()}
        for candidate in candidates:
            if wanted <= {c.lower() for c in candidate.cells}:
                return candidate, mapped_layout(candidate.cells, column_mapping)
        return candidates[0], mapped_layout(candidates[0].cells, column_mapping)
    # Some exports put a title or a date range above the header: look a few lines down.
    for candidate in candidates:
        layout = detect_layout(candidate.cells)
        if layout is not None:
            return candidate, layout
    raise unrecognised(candidates[0].cells)


def parse_upload(
    stream: typing.BinaryIO,
    *,
    filename: str,
    today: dt.date,
    column_mapping: dict[str, str] | None = None,
) -> ParsedUpload:
    """Parses one uploaded file; raises ``UnreadableUpload`` when nothing of it can be loaded,
    whatever in the file made the reading fail, and ``SourceUnavailable`` when ``stream`` itself
    failed to give its bytes (not the file's fault: worth another try).

    ``filename`` is informational only: the content decides (a ``.csv`` may be gzip, or UTF-16).
    """
    try:
        source = open_source(typing.cast(typing.BinaryIO, GuardedReads(stream)))
        header, layout = _choose_header(source.candidates, column_mapping)
        if layout.is_bookings:
            return parse_bookings(source, header, layout, today)
        if layout.is_line_items:
            return parse_line_items(source, header, layout, today)
        return parse_daily(source, header, layout, today)
    except (UnreadableUpload, SourceUnavailable, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the file made parsing fail: say so to its owner
        raise refusal_for(exc) from exc
