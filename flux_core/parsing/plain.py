"""The plain daily file, read fast: what ``daily.parse_daily_carefully`` would return, or None.

Plain means: comma-separated, the header on the first line and every header column used, then one
line per day with an ISO date (``2024-01-31``) and plain non-negative numbers (``1234.50``, no
sign, currency, thousands separator, space or quote), no blank, total or repeated line, and every
day between ``schemas.EARLIEST_DATE`` and today. On such a file the careful path rejects nothing,
reads every date with its first format and every amount with a decimal point, and flags the same
outliers: so the result is built directly from the text. Anything else returns None and the
careful path reads the file (from a source that replays what was read here).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import typing

import numpy as np
import pandas as pd
import pyarrow as pa

from flux_core.parsing.layouts import DAILY_MEASURES, Layout
from flux_core.parsing.outliers import MIN_DAYS, THRESHOLD, outlier_warnings
from flux_core.parsing.result import DAILY_ROWS, ParsedUpload, no_rejections
from flux_core.parsing.schemas import EARLIEST_DATE, MAX_AMOUNT
from flux_core.parsing.source import Candidate, TextSource

# Larger files are daily files of decades or line-item exports: the careful path streams them.
PLAIN_MAX_CHARS = 1 << 20
_ISO_DAY = r"\d{4}-\d{2}-\d{2}"
_PLAIN_NUMBER = r"\d+(?:\.\d+)?"


class _Replay(io.TextIOBase):
    """The text already read, then the rest of the stream: the careful path reads the file whole."""

    def __init__(self, head: str, rest: typing.TextIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        if size is None or size < 0:
            text, self._head = self._head + self._rest.read(), ""
            return text
        if self._head:
            text, self._head = self._head[:size], self._head[size:]
            return text
        return self._rest.read(size)


@functools.lru_cache(maxsize=32)
def _body_pattern(width: int, date_at: int) -> re.Pattern[str]:
    cells = ",".join(_ISO_DAY if i == date_at else _PLAIN_NUMBER for i in range(width))
    return re.compile(f"(?:{cells}\n)+")


def _replaying(source: TextSource, head: str, rest: typing.TextIO | None) -> TextSource:
    def open_text() -> typing.TextIO:
        if rest is None:
            return io.StringIO(head, newline="")
        return typing.cast(typing.TextIO, _Replay(head, rest))

    return TextSource(source.encoding, source.compressed, source.candidates, open_text)


def read_plain_daily(
    source: TextSource, header: Candidate, layout: Layout, today: dt.date
) -> tuple[ParsedUpload | None, TextSource]:
    """(the parsed file, or None when it is not plain; the source to read it from otherwise)."""
    width = len(header.cells)
    if (
        header.delimiter != ","
        or header.line_number != 1
        or sorted(layout.columns.values()) != list(range(width))
    ):
        return None, source
    stream = source.open_text()
    text = stream.read(PLAIN_MAX_CHARS)
    if len(text) == PLAIN_MAX_CHARS:
        return None, _replaying(source, text, stream)
    replay = _replaying(source, text, None)
    parsed = _parse(text, header, layout, today)
    return parsed, replay


def _parse(text: str, header: Candidate, layout: Layout, today: dt.date) -> ParsedUpload | None:
    width = len(header.cells)
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # a lone \r is left for the pattern to refuse
    if not text.endswith("\n"):
        text += "\n"
    body = text.partition("\n")[2]
    date_at = layout.columns["date"]
    if not body or _body_pattern(width, date_at).fullmatch(body) is None:
        return None
    cells = body[:-1].replace("\n", ",").split(",")
    try:
        # NumPy reads ISO days in C and refuses 2024-02-30 and the like (the careful path then
        # says which line).
        days = np.array(cells[date_at::width], dtype="datetime64[D]")
    except ValueError:
        return None
    count = len(days)
    if (
        days.min() < np.datetime64(EARLIEST_DATE)
        or days.max() > np.datetime64(today)
        or len(np.unique(days)) != count
    ):
        return None
    measures = [m for m in DAILY_MEASURES if m in layout.columns]
    values = {
        m: np.fromiter(map(float, cells[layout.columns[m] :: width]), np.float64, count)
        for m in measures
    }
    if any(float(column.max(initial=0.0)) >= MAX_AMOUNT for column in values.values()):
        return None  # the careful path rejects the line that staging could not hold
    warnings: list[str] = []
    if _may_have_outliers(values):
        names = {role: header.cells[position] for role, position in layout.columns.items()}
        lines = np.arange(2, count + 2, dtype=np.int64)
        typed = pd.DataFrame({"line_number": lines, **values})
        warnings = outlier_warnings(typed, measures, names)

    # The careful path's order: by day, then metric by name.
    order = np.argsort(days, kind="stable")
    metrics = sorted(measures)
    rows = pa.table(
        {
            "date": pa.array(np.repeat(days[order], len(metrics))),
            "metric": pa.array(metrics).take(np.tile(np.arange(len(metrics)), count)),
            "value": np.column_stack([values[m][order] for m in metrics]).ravel(),
        },
        schema=DAILY_ROWS,
    )
    return ParsedUpload(
        format=layout.format,
        daily_rows=rows,
        item_rows=None,
        rejected=no_rejections(),
        rows_total=count,
        warnings=warnings,
    )


def _may_have_outliers(values: dict[str, np.ndarray]) -> bool:
    """``outlier_warnings``' test on these columns, in NumPy (same medians, same comparisons): the
    pandas version, which also words the warning, runs only on the rare file that has one. A
    plain file's columns are all numbers (no NaN), so the plain median is the one to take."""
    for column in values.values():
        if len(column) < MIN_DAYS:
            continue
        median = float(np.median(column))
        deviation = np.abs(column - median)
        spread = float(np.median(deviation))
        if spread != 0 and bool((deviation > THRESHOLD * spread).any()):
            return True
    return False
