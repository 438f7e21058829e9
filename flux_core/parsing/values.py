"""Numbers and dates as restaurants' exports write them, parsed a whole column at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flux_core.parsing.errors import UnreadableUpload

# Python's \s as literal characters (what str.isspace() accepts). A pattern with \s makes pandas
# run Python's re once per value, since RE2's \s misses some of these; spelled out, pyarrow's RE2
# runs it over the whole column in C and both engines match the same characters.
_SPACE_POINTS = (*range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B))
SPACE = "".join(map(chr, (*_SPACE_POINTS, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)))
_S = f"[{SPACE}]"
# Currency signs and codes, and the spaces (plain, no-break, thin) used as thousands separators.
_DECORATION = f"[{SPACE}$€£¥₹₩₺]|\\b(?:USD|EUR|GBP|CHF|AUD|CAD|NZD|JPY|INR|SEK|NOK|DKK|kr)\\b"
# Arrow-backed text with pd.NA for missing: string operations and regexes run in C (RE2) over
# the whole column; the default "string" dtype here is Python-backed, one re call per value.
ARROW_TEXT = pd.StringDtype("pyarrow")
_POINT_NUMBER = r"^(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$"
_COMMA_NUMBER = r"^(?:\d+|\d{1,3}(?:[.']\d{3})+)(?:,\d+)?$"
_POINT_NUMBER_SWISS = r"^(?:\d+|\d{1,3}(?:'\d{3})+)(?:\.\d+)?$"


def _clean(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strips currency and spacing; returns (digits and separators, is negative)."""
    text = raw.astype(ARROW_TEXT).str.strip()
    parenthesised = text.str.match(r"^\(.*\)$").fillna(False)
    text = text.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    text = text.str.replace(_DECORATION, "", regex=True)
    negative = text.str.match(r"^-|.*-$").fillna(False) | parenthesised
    text = text.str.replace(r"^[+-]|-$", "", regex=True)
    return text, negative


def _distinct(raw: pd.Series) -> tuple[pd.Series, object]:
    """The distinct texts of a column and the codes to spread results back: exports repeat a
    handful of prices and dates across millions of lines, so each is parsed once."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    return pd.Series(uniques, dtype=ARROW_TEXT), codes


def _spread(values: pd.Series, codes: object, index: pd.Index) -> pd.Series:
    positions = np.asarray(codes)
    taken = values.to_numpy()[np.where(positions < 0, 0, positions)] if len(values) else []
    result = pd.Series(taken, index=index, dtype=values.dtype)
    return result.where(positions >= 0) if (positions < 0).any() else result


def decimal_separator(columns: list[pd.Series], delimiter: str) -> str:
    """',' or '.', judged from every value of the file's amount columns.

    A value settles it when it has both separators (the last is the decimal) or one separator
    followed by other than three digits. ``1,234`` alone says nothing; then the delimiter decides:
    files separated by ';' come from locales that write decimal commas.
    """
    votes = {",": 0, ".": 0}
    for column in columns:
        text, _ = _clean(_distinct(column.dropna())[0])
        text = text[text != ""]
        both = text.str.contains(",", regex=False) & text.str.contains(".", regex=False)
        last_comma = text.str.rfind(",") > text.str.rfind(".")
        votes[","] += int((both & last_comma).sum())
        votes["."] += int((both & ~last_comma).sum())
        only_comma = ~both & text.str.contains(r",(?:\d{1,2}|\d{4,})$", regex=True)
        only_point = ~both & text.str.contains(r"\.(?:\d{1,2}|\d{4,})$", regex=True)
        votes[","] += int(only_comma.sum())
        votes["."] += int(only_point.sum())
    if votes[","] > votes["."]:
        return ","
    if votes["."] > votes[","]:
        return "."
    return "," if delimiter == ";" else "."


def parse_amounts(raw: pd.Series, decimal: str) -> tuple[pd.Series, pd.Series]:
    """(values as float, True where the text is not a number). Empty cells are NaN, not invalid."""
    distinct, codes = _distinct(raw)
    text, negative = _clean(distinct)
    empty = text.isna() | (text == "")
    if decimal == ",":
        valid = text.str.match(_COMMA_NUMBER).fillna(False)
        normalised = text.str.replace(r"[.']", "", regex=True).str.replace(",", ".", regex=False)
    else:
        valid = text.str.match(_POINT_NUMBER).fillna(False) | text.str.match(
            _POINT_NUMBER_SWISS
        ).fillna(False)
        normalised = text.str.replace(r"[,']", "", regex=True)
    numbers = pd.to_numeric(normalised.where(valid & ~empty), errors="coerce").astype("float64")
    numbers = numbers.where(~negative, -numbers)
    invalid = (~empty & ~valid).astype(bool)
    return (
        _spread(numbers, codes, raw.index),
        _spread(invalid, codes, raw.index).fillna(False).astype(bool),
    )


# A time after the date ("03/08/2019 20:25", "2024-01-05T10:00:00Z", "1/2/24 11:45 AM") is not
# needed to find the day; cutting it keeps the number of distinct date texts small.
_TIME_SUFFIX = (
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    f"{_S}*(?:[AaPp]\\.?[Mm]\\.?)?{_S}*"
    r"(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5})?)"
    f"{_S}*$"
)
TIME_SUFFIX = _TIME_SUFFIX


def date_keys(raw: pd.Series) -> pd.Series:
    """The day part of each date/timestamp cell, as text."""
    distinct, codes = _distinct(raw)
    keys = distinct.str.strip().str.replace(_TIME_SUFFIX, "", regex=True)
    return _spread(keys, codes, raw.index)


ISO_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
DAY_FIRST = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y", "%d-%m-%y")
# Dotted dates (31.01.2024) are written day-first wherever they are used.
MONTH_FIRST = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%m-%d-%y")
NAMED_MONTH = (
    "%d %b %Y",
    "%d-%b-%Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%d-%b-%y",
    "%a %d %b %Y",
    "%A, %B %d, %Y",
)
ALL_FORMATS = ISO_FORMATS + DAY_FIRST + MONTH_FIRST + NAMED_MONTH
_EXAMPLE = {"%d": "31", "%m": "01", "%Y": "2024", "%y": "24", "%b": "Jan", "%B": "January"}


@dataclass(frozen=True)
class DateReading:
    format: str
    dates: pd.Series  # index: the key text; values: datetime.date or None
    note: str | None  # how an ambiguity was resolved, for the upload's warnings


class _Parses:
    """Each format's reading of the keys, made on first use: most files are settled by the first
    format that reads every date, so the other twenty-odd need not run."""

    def __init__(self, keys: pd.Series) -> None:
        # pandas reads "today" and "now" as the clock's date whatever the format: a date has
        # digits.
        self._dated = keys.where(keys.str.contains(r"\d", regex=True).fillna(False))
        self._size = len(keys)
        self._parsed: dict[str, pd.Series] = {}
        self._counts: dict[str, int] = {}

    def __getitem__(self, fmt: str) -> pd.Series:
        if fmt not in self._parsed:
            self._parsed[fmt] = pd.to_datetime(self._dated, format=fmt, errors="coerce")
        return self._parsed[fmt]

    def count(self, fmt: str) -> int:
        if fmt not in self._counts:
            self._counts[fmt] = int(self[fmt].notna().sum())
        return self._counts[fmt]

    def reads_all(self, fmt: str) -> bool:
        return self.count(fmt) == self._size

    def first_reading_all(self, formats: tuple[str, ...]) -> str | None:
        return next((fmt for fmt in formats if self.reads_all(fmt)), None)


def _describe(fmt: str) -> str:
    text = fmt
    for code, example in _EXAMPLE.items():
        text = text.replace(code, example)
    return text


def read_dates(keys: pd.Series, today: dt.date) -> DateReading:
    """Chooses one date format for the whole file from its distinct date texts.

    Day-first and month-first are told apart by the days above 12. When every date fits both,
    an order that puts dates in the future is ruled out; if both remain, the file is refused.
    """
    keys = pd.Series(keys.dropna().unique(), dtype="string")
    keys = keys[keys != ""]
    if keys.empty:
        raise UnreadableUpload("The file has no dates in its date column.")
    parsed = _Parses(keys)
    # The first format in ALL_FORMATS that reads every date would head the tie of the best
    # counts, so only the day-first/month-first rule below can overrule it; that needs a
    # complete month-first reading, looked for only when the winner is day-first.
    complete = parsed.first_reading_all(ALL_FORMATS)
    if complete is not None:
        tied = [complete]
        if complete in DAY_FIRST:
            month_first_complete = parsed.first_reading_all(MONTH_FIRST)
            if month_first_complete is not None:
                tied.append(month_first_complete)
    else:
        counts = {fmt: parsed.count(fmt) for fmt in ALL_FORMATS}
        best = max(counts.values())
        if best == 0:
            examples = ", ".join(repr(k) for k in keys.head(3))
            raise UnreadableUpload(
                f"We could not read the dates in this file (for example {examples}). "
                "Please write dates like 2024-01-31."
            )
        tied = [fmt for fmt in ALL_FORMATS if counts[fmt] == best]
    chosen, note = tied[0], None
    day_first = [f for f in tied if f in DAY_FIRST]
    month_first = [f for f in tied if f in MONTH_FIRST]
    if day_first and month_first and tied[0] not in ISO_FORMATS:
        a, b = parsed[day_first[0]], parsed[month_first[0]]
        if not a.equals(b):
            limit = pd.Timestamp(today)
            a_future, b_future = bool((a > limit).any()), bool((b > limit).any())
            if a_future != b_future:
                chosen = month_first[0] if a_future else day_first[0]
                note = (
                    "Dates such as "
                    f"{keys[a.ne(b).fillna(False)].iloc[0]!r} fit both day-first and month-first; "
                    f"read as {_describe(chosen)} because the other order puts dates in the future."
                )
            else:
                example = keys[a.ne(b).fillna(False)].iloc[0]
                raise UnreadableUpload(
                    f"The dates in this file are ambiguous: every one of them (e.g. {example!r}) "
                    "could be day/month or month/day, so we cannot tell which days they are. "
                    "Please export dates like 2024-01-31, or with the month as a name."
                )
        else:
            chosen = day_first[0]
    values = parsed[chosen]
    if not parsed.reads_all(chosen):
        # A few dates written in ISO form among others are still clear.
        for fmt in ISO_FORMATS:
            values = values.fillna(parsed[fmt])
    dates = pd.Series(
        [None if pd.isna(v) else v.date() for v in values], index=keys.array, dtype=object
    )
    return DateReading(chosen, dates, note)


def expected_date(fmt: str) -> str:
    return _describe(fmt)


def expected_amount(decimal: str) -> str:
    return "1.234,50" if decimal == "," else "1,234.50"
