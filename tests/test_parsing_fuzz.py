"""The upload parsers under a property-based fuzzer (hypothesis): whatever the bytes, every input
ends as loaded, partly rejected or rejected, never as any other exception; and what is loaded is
what staging can take (its pandera rules hold, so a batch never fails on it).

Bounded in `make test` (FLUX_FUZZ_EXAMPLES, 100 a property); `make fuzz` runs 20,000 each. What it
finds becomes a file in the catalog of awkward files (tests/files, test_parsing_catalog.py).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.schemas import staged_daily_violations
from flux_core.parsing.upload import parse_upload

TODAY = dt.date(2026, 6, 30)
EXAMPLES = int(os.environ.get("FLUX_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("FLUX_FUZZ_RANDOM") is None,  # make test: the same cases each run
)

HEADERS = [
    "date,sales,covers",
    "Date;Net Sales;Guests",
    "Business Day\tRevenue\tCovers",
    "date|sales",
    "Order Number,Order Date,Item Name,Quantity,Product Price,Total products",
    "Date,Time,Transaction,Item",
    "datum;umsatz",
    "name,email",
]
DELIMITERS = [",", ";", "\t", "|"]
CELLS = st.one_of(
    st.sampled_from(
        [
            "2024-01-31",
            "31/01/2024",
            "01/31/2024",
            "2024-02-30",
            "1 Jan 2024",
            "2031-01-01",
            "1999-12-31",
            "12.50",
            "1.234,50",
            "(12.00)",
            "-5",
            "$1,200",
            "1e300",
            "1e15",
            "nan",
            "inf",
            "",
            '"',
            '""',
            '"a,b"',
            "=SUM(A1)",
            "Total",
            "\u20ac 12",
            "\x00",
            "\r",
            "Naan",
        ]
    ),
    st.text(max_size=12),
    # A broken export: an opening quote never closed, a field of hundreds of kilobytes.
    st.integers(1, 300_000).map(lambda n: '"' + "x" * n),
    st.integers(1, 200_000).map(lambda n: "9" * n),
    st.integers(-(10**16), 10**16).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "cp932", "latin-1"]


@st.composite
def exports(draw: st.DrawFn) -> bytes:
    """Text shaped like a sales export, bent in the ways exports are."""
    header = draw(st.sampled_from(HEADERS))
    delimiter = draw(st.sampled_from(DELIMITERS))
    width = len(header.replace(";", ",").replace("\t", ",").replace("|", ",").split(","))
    rows = draw(
        st.lists(st.lists(CELLS, min_size=max(0, width - 2), max_size=width + 2), max_size=40)
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [header] + [delimiter.join(row) for row in rows]
    if draw(st.booleans()):  # a title or a totals line around it
        lines.insert(
            0, draw(st.sampled_from(["Sales report", "", "From 2024-01-01 to 2024-01-31"]))
        )
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    data = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if draw(st.integers(0, 9)) == 0:  # cut off mid-file
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 4)) == 0:
        data = gzip.compress(data)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def changing_exports(draw: st.DrawFn) -> bytes:
    """Two exports end to end: a file that changes format partway through."""
    return draw(exports()) + draw(st.sampled_from([b"\n", b"\r\n", b""])) + draw(exports())


def check(data: bytes) -> None:
    swallowed: list[BaseException | None] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: swallowed.append(u.exc_value)
    try:
        _check(data)
    finally:
        sys.unraisablehook = hook
    # An error raised where nobody can catch it (a library's callback) is a crash too.
    if swallowed and (keep := os.environ.get("FLUX_FUZZ_KEEP")):
        Path(keep).write_bytes(data)  # the input, for the catalog of awkward files
    assert swallowed == [], swallowed


def _check(data: bytes) -> None:
    try:
        parsed = parse_upload(io.BytesIO(data), filename="fuzz.csv", today=TODAY)
    except UnreadableUpload as refusal:
        assert str(refusal).strip(), "a refusal says why"
        # Refused by the parsers' own rules, not by the last-resort guard around an exception
        # that no parser foresaw (a crash, turned into a refusal so that no upload is stuck).
        assert not getattr(refusal, "unforeseen", False), repr(refusal.__cause__)
        return
    assert isinstance(parsed, ParsedUpload)
    assert parsed.rows_total >= 0
    rejected_lines = parsed.rejected["line_number"].nunique() if not parsed.rejected.empty else 0
    assert rejected_lines <= parsed.rows_total
    assert parsed.rejected["reason"].map(lambda r: bool(str(r).strip())).all()
    rows = parsed.daily_rows
    if rows.num_rows:
        frame = pd.DataFrame(
            {
                "upload": np.zeros(rows.num_rows, dtype=np.int64),
                "metric": rows["metric"].to_pandas(),
                "date": pd.Series(rows["date"].to_numpy(), dtype="datetime64[s]"),
                "value": rows["value"].to_numpy(),
            }
        )
        violations = staged_daily_violations(frame, TODAY)
        assert violations.empty, violations


@FUZZ
@given(st.binary(max_size=4096))
def test_any_bytes_end_as_loaded_or_refused(data: bytes) -> None:
    check(data)


@FUZZ
@given(exports())
def test_awkward_exports_end_as_loaded_partly_rejected_or_refused(data: bytes) -> None:
    check(data)


@FUZZ
@given(changing_exports())
def test_a_file_that_changes_format_partway_ends_as_loaded_or_refused(data: bytes) -> None:
    check(data)
