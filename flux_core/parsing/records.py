"""The delimited records of an upload, split by Arrow's CSV reader, each with its physical line.

The text is read as UTF-8 in blocks cut at a line break outside quotes, and Arrow splits each
block into fields in C++ on every core. Line numbers: when a block's records are exactly its lines
(no blank line, no line break inside a quoted field, every line with the header's number of
fields) they are numbered consecutively. Otherwise NumPy finds where each record of the block
starts from its line breaks and quotes, and the records Arrow cannot take (another number of
fields) are split by the csv module. A block on which NumPy and Arrow disagree (say, a quote
ending an unquoted field: Pizza 12") is split by the csv module alone: slower, never misnumbered.
"""

from __future__ import annotations

import csv
import io
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.source import Candidate, TextSource

BLOCK_BYTES = 16 * 1024 * 1024
# Arrow's own units of work inside one block: two cores share a block's 16 pieces.
ARROW_BLOCK_BYTES = 1024 * 1024
# Lines with more fields than the header are reported, not fatal, up to this many extra fields.
EXTRA_FIELDS = 8
_NEWLINE, _RETURN, _QUOTE = 10, 13, 34
_LONE_RETURN = re.compile(rb"\r(?!\n)")


@dataclass
class Records:
    cells: dict[int, pa.Array]  # column position -> text as written ('' when empty or missing)
    lines: np.ndarray  # int64, ascending: the physical line each record starts on
    too_many_fields: np.ndarray  # bool per record

    def __len__(self) -> int:
        return len(self.lines)


def read_records(source: TextSource, header: Candidate, positions: list[int]) -> Iterator[Records]:
    """The records below ``header``, blank lines left out, with the columns at ``positions``."""
    width = len(header.cells)
    wanted = sorted(set(positions))
    with source.utf8() as stream:
        for block, first_line, breaks in _blocks(stream, header.line_number, header.delimiter):
            records = _parse(block, first_line, breaks, width, header.delimiter, wanted)
            if len(records):
                yield records


def _blocks(
    stream: typing.BinaryIO, skip_lines: int, delimiter: str
) -> Iterator[tuple[bytes, int, int]]:
    """Blocks of whole records after the first ``skip_lines`` lines: (block, its first line, how
    many line breaks it holds)."""
    carry = b""
    line = 1
    while True:
        data = stream.read(BLOCK_BYTES)
        at_end = not data
        buffer = carry + data if carry else data
        del data  # one copy of a block at a time
        held = b""
        if not at_end and buffer.endswith(b"\r"):
            # It may be the first half of a \r\n split between two reads.
            buffer, held = buffer[:-1], b"\r"
        returns, breaks = buffer.count(b"\r"), buffer.count(b"\n")
        if returns and returns != breaks and returns != buffer.count(b"\r\n"):
            # Old Mac line ends: a lone \r ends a line for Arrow, the csv module and the header.
            buffer = _LONE_RETURN.sub(b"\n", buffer)
            breaks = buffer.count(b"\n")
        start = 0
        while skip_lines and (found := buffer.find(b"\n", start)) >= 0:
            start, skip_lines, line, breaks = found + 1, skip_lines - 1, line + 1, breaks - 1
        buffer = buffer[start:] if start else buffer
        if skip_lines:
            if at_end:
                return
            carry = buffer + held
            continue
        if at_end:
            if buffer:
                yield buffer, line, breaks
            return
        cut = _record_boundary(buffer, delimiter, len(buffer) >= 4 * max(BLOCK_BYTES, 1 << 20))
        if cut <= 0:
            carry = buffer + held
            continue
        block, carry = buffer[:cut], buffer[cut:] + held
        del buffer
        breaks -= carry.count(b"\n")
        yield block, line, breaks
        line += breaks


def _record_boundary(buffer: bytes, delimiter: str, give_up: bool) -> int:
    """Just after the last line break outside quoted fields (0: none yet, read more).

    Usually the last line break, with an even number of quotes before it. Otherwise the quotes
    that open or close fields decide; if no line break is outside them and the buffer is already
    far larger than a block (``give_up``), the quotes cannot be fields: the last line break.
    """
    last = buffer.rfind(b"\n")
    if last < 0:
        return 0
    if b'"' not in buffer or buffer.count(b'"', 0, last) % 2 == 0:
        return last + 1
    data = np.frombuffer(buffer, dtype=np.uint8)
    quotes = _field_quotes(data, ord(delimiter))
    breaks = np.flatnonzero(data == _NEWLINE)
    outside = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    if len(outside):
        return int(outside[-1]) + 1
    return last + 1 if give_up else 0


def _arrow(
    block: bytes, width: int, delimiter: str, wanted: list[int], quoted: bool
) -> tuple[pa.Table, int, bytes]:
    """Arrow's parse of the block: (records with ``width`` fields, how many it skipped, the
    block as parsed: invalid UTF-8 is replaced, as the text decoder does)."""
    names = [str(i) for i in range(width)]
    skipped = 0

    def skip(_row: object) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    def read(data: bytes) -> pa.Table:
        return pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(
                column_names=names, use_threads=True, block_size=ARROW_BLOCK_BYTES
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=quoted, invalid_row_handler=skip
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                include_columns=[names[p] for p in wanted],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    # Invalid UTF-8 is replaced before Arrow sees it: on a line with the wrong number of fields,
    # Arrow decodes the line for the invalid-row handler and fails there, where the error is
    # swallowed and the line never counted (found by the fuzzer, tests/test_parsing_fuzz.py).
    # Checking costs a decode of the block, which CPython does at memory speed for ASCII.
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        block = block.decode("utf-8", "replace").encode("utf-8")
    return read(block), skipped, block


def _parse(
    block: bytes, first_line: int, breaks: int, width: int, delimiter: str, wanted: list[int]
) -> Records:
    quoted = b'"' in block
    try:
        table, skipped, block = _arrow(block, width, delimiter, wanted, quoted)
    except pa.ArrowInvalid:
        return _parse_with_csv(block, first_line, width, delimiter, wanted)
    lines = breaks + (0 if block.endswith(b"\n") else 1)
    if skipped == 0 and table.num_rows == lines:
        return Records(
            {p: table.column(str(p)).combine_chunks() for p in wanted},
            np.arange(first_line, first_line + lines, dtype=np.int64),
            np.zeros(lines, dtype=bool),
        )
    return _parse_exactly(block, first_line, width, delimiter, wanted, table, quoted)


def _parse_exactly(
    block: bytes,
    first_line: int,
    width: int,
    delimiter: str,
    wanted: list[int],
    table: pa.Table,
    quoted: bool,
) -> Records:
    data = np.frombuffer(block, dtype=np.uint8)
    breaks = np.flatnonzero(data == _NEWLINE)
    separators = np.flatnonzero(data == ord(delimiter))
    ends = breaks
    if quoted:
        quotes = _field_quotes(data, ord(delimiter))
        ends = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
        separators = separators[np.searchsorted(quotes, separators) % 2 == 0]
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    if starts[-1] >= len(data):  # the block ends with a line break: no record after it
        starts, stops = starts[:-1], stops[:-1]
    record_lines = first_line + np.searchsorted(breaks, starts).astype(np.int64)
    lengths = stops - starts
    ends_with_return = (lengths > 0) & (data[np.maximum(stops - 1, 0)] == _RETURN)
    blank = (lengths - ends_with_return) == 0
    owner = np.searchsorted(starts, separators, side="right") - 1
    fields = np.bincount(owner, minlength=len(starts)) + 1
    valid = ~blank & (fields == width)
    if int(valid.sum()) != table.num_rows:
        return _parse_with_csv(block, first_line, width, delimiter, wanted)
    odd = np.flatnonzero(~blank & ~valid)
    rows = [
        _split_line(block[starts[i] : stops[i]].decode("utf-8", "replace"), delimiter, line)
        for i, line in zip(odd, record_lines[odd].tolist(), strict=True)
    ]
    _check_width(rows, record_lines[odd], width)
    lines = np.concatenate((record_lines[valid], record_lines[odd]))
    order = np.argsort(lines, kind="stable")
    cells = {
        p: pa.concat_arrays(
            [
                table.column(str(p)).combine_chunks(),
                pa.array([row[p] if p < len(row) else "" for row in rows], pa.string()),
            ]
        ).take(pa.array(order))
        for p in wanted
    }
    too_many = np.concatenate((np.zeros(table.num_rows, bool), [_too_many(r, width) for r in rows]))
    return Records(cells, lines[order], too_many[order].astype(bool))


def _field_quotes(data: np.ndarray, delimiter: int) -> np.ndarray:
    """Quotes that open or close a field (next to a delimiter or a line end): a quote inside an
    unquoted field (12" pizza) or a doubled one inside a quoted field leaves them paired."""
    at = np.flatnonzero(data == _QUOTE)
    if len(at) == 0:
        return at
    edges = np.array([delimiter, _NEWLINE, _RETURN], dtype=np.uint8)
    before = np.ones(len(at), dtype=bool)
    inner = at > 0
    before[inner] = np.isin(data[at[inner] - 1], edges)
    after = np.ones(len(at), dtype=bool)
    inner = at < len(data) - 1
    after[inner] = np.isin(data[at[inner] + 1], edges)
    return at[before | after]


def _split(text: str, delimiter: str) -> list[str]:
    text = text.removesuffix("\r")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


def _broken_line(line: int, error: csv.Error) -> UnreadableUpload:
    return UnreadableUpload(
        f"Line {line} of the file cannot be read as CSV ({error}): the export is probably "
        "broken there (an opening quote that is never closed, for instance). Export the file "
        "again and upload that."
    )


def _split_line(text: str, delimiter: str, line: int) -> list[str]:
    try:
        return _split(text, delimiter)
    except csv.Error as error:
        raise _broken_line(line, error) from error


def _too_many(row: list[str], width: int) -> bool:
    """Fields past the header's with something in them (trailing empty ones are harmless)."""
    return any(field.strip() for field in row[width:])


def _check_width(rows: list[list[str]], lines: np.ndarray, width: int) -> None:
    for row, line in zip(rows, lines, strict=True):
        if len(row) > width + EXTRA_FIELDS:
            raise UnreadableUpload(
                "The file's lines do not line up with its header (some lines have far more "
                f"fields than the header's {width}); it may not be a CSV export. Details: line "
                f"{int(line)} has {len(row)} fields."
            )


def _parse_with_csv(
    block: bytes, first_line: int, width: int, delimiter: str, wanted: list[int]
) -> Records:
    reader = csv.reader(
        io.StringIO(block.decode("utf-8", "replace"), newline=""), delimiter=delimiter
    )
    rows: list[list[str]] = []
    lines: list[int] = []
    consumed = 0
    try:
        for row in reader:
            line, consumed = first_line + consumed, reader.line_num
            if row:
                rows.append(row)
                lines.append(line)
    except csv.Error as error:
        raise _broken_line(first_line + consumed, error) from error
    numbers = np.array(lines, dtype=np.int64)
    _check_width(rows, numbers, width)
    return Records(
        {p: pa.array([r[p] if p < len(r) else "" for r in rows], pa.string()) for p in wanted},
        numbers,
        np.array([_too_many(r, width) for r in rows], dtype=bool),
    )
