"""Reading the delimited rows of an upload in chunks, as pandas text, each with its physical line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flux_core.parsing.records import EXTRA_FIELDS, read_records
from flux_core.parsing.source import Candidate, TextSource
from flux_core.parsing.values import SPACE

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
__all__ = ["EXTRA_FIELDS", "TOTAL_LINE", "Chunk", "ReadStats", "read_chunks"]
# Whitespace spelled out (values.SPACE), not \s, so the match runs in RE2 over the column.
_TOTAL_LINE = re.compile(
    f"^[{SPACE}]*(?:grand[{SPACE}]+)?"
    f"(?:totals?|sum|summe|gesamt|total[{SPACE}]+g[ée]n[ée]ral|subtotal)\\b",
    re.I,
)
# The same, for Arrow's regex functions (with ignore_case=True).
TOTAL_LINE = _TOTAL_LINE.pattern


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

    Rows are records (``records.read_records``): a quoted field spanning lines is one row, and
    every row keeps the physical line it starts on.
    """
    needed = sorted(set(positions) | {0, date})
    first = 0
    for records in read_records(source, header, needed):
        index = pd.RangeIndex(first, first + len(records))
        first += len(records)
        cells = pd.DataFrame(
            {
                p: pd.Series(pd.array(records.cells[p], dtype=TEXT), index=index).str.strip()
                for p in needed
            }
        )
        lines = pd.Series(records.lines, index=index)
        too_many = pd.Series(records.too_many_fields, index=index)
        used = cells[sorted(set(positions) | {0})]
        blank = (used == "").all(axis=1) & ~too_many
        labels = cells[sorted({0, date})]
        total = labels.apply(lambda column: column.str.match(_TOTAL_LINE)).fillna(False).any(axis=1)
        stats.blank_lines += int(blank.sum())
        stats.total_lines += int((total & ~blank).sum())
        keep = ~blank & ~total
        yield Chunk(cells[keep], lines[keep], too_many[keep])
