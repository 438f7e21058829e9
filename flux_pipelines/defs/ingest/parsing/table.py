"""Reading the delimited rows of an upload in chunks, each with its physical line number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flux_pipelines.defs.ingest.parsing.result import UnreadableUpload
from flux_pipelines.defs.ingest.parsing.source import Candidate, TextSource
from flux_pipelines.defs.ingest.parsing.values import SPACE

CHUNK_ROWS = 250_000
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
# Lines with more fields than the header are reported, not fatal, up to this many extra fields.
EXTRA_FIELDS = 8
# Whitespace spelled out (values.SPACE), not \s, so the match runs in RE2 over the column.
_TOTAL_LINE = re.compile(
    f"^[{SPACE}]*(?:grand[{SPACE}]+)?"
    f"(?:totals?|sum|summe|gesamt|total[{SPACE}]+g[ée]n[ée]ral|subtotal)\\b",
    re.I,
)


@dataclass
class Chunk:
    cells: pd.DataFrame  # column position -> stripped text ('' when empty or missing)
    lines: pd.Series  # the physical line number of each row
    too_many_fields: pd.Series  # bool per row


@dataclass
class ReadStats:
    blank_lines: int = 0
    total_lines: int = 0


def read_chunks(
    source: TextSource, header: Candidate, positions: list[int], date: int, stats: ReadStats
) -> Iterator[Chunk]:
    """Data rows below ``header``; blank lines and total/summary lines are counted, not returned.

    A line counts as one row (quoted fields spanning lines would shift later line numbers).
    """
    width = len(header.cells)
    extras = list(range(width, width + EXTRA_FIELDS))
    needed = sorted(set(positions) | {0, date} | set(extras))
    reader = pd.read_csv(
        source.open_text(),
        sep=header.delimiter,
        header=None,
        names=list(range(width + EXTRA_FIELDS)),
        skiprows=header.line_number,
        # Arrow-backed text: string operations run in C over whole columns, not per Python object.
        dtype=TEXT,
        keep_default_na=False,
        skip_blank_lines=False,
        index_col=False,
        engine="c",
        chunksize=CHUNK_ROWS,
    )
    first_line = header.line_number + 1
    try:
        for raw in reader:
            lines = pd.Series(range(first_line, first_line + len(raw)), index=raw.index)
            first_line += len(raw)
            # Only the columns we use are kept: wide exports (Toast has ~30) would double memory.
            cells = raw[needed].fillna("")
            cells = cells.apply(lambda column: column.str.strip())
            too_many = (cells[extras] != "").any(axis=1)
            used = cells[sorted(set(positions) | {0})]
            blank = (used == "").all(axis=1) & ~too_many
            labels = cells[sorted({0, date})]
            total = (
                labels.apply(lambda column: column.str.match(_TOTAL_LINE)).fillna(False).any(axis=1)
            )
            stats.blank_lines += int(blank.sum())
            stats.total_lines += int((total & ~blank).sum())
            keep = ~blank & ~total
            yield Chunk(cells[keep], lines[keep], too_many[keep])
    except pd.errors.ParserError as exc:
        raise UnreadableUpload(
            "The file's lines do not line up with its header (some lines have far more fields "
            f"than the header's {width}); it may not be a CSV export. Details: {exc}"
        ) from exc
