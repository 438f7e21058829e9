"""Line-item exports (one line per item sold) aggregated to daily sales, orders and items.

Read in blocks of records (``records.py``): each column of a block is dictionary-encoded by Arrow,
so every distinct text (a price, an item, a date) is parsed and checked once, and the lines are
handled as NumPy arrays of codes. A block is reduced to sums per (date text, item) and distinct
(date text, order) pairs as 64-bit integers, so the date format is chosen from the whole file at
the end (day-first vs month-first) without a second pass. What is kept per line is the code of its
date text (two bytes): enough to name every line of a date that turns out unreadable.

Rules, per line: a line needs a date, an item and (when the export has them) an order id, a
quantity and a price; a missing quantity column means one unit per line. Sales are quantity x unit
price, or the line total when the export gives one. Lines voided or refunded in the point-of-sale
system are rejected with that reason. Lines repeated exactly are counted each time: exports list an
item twice when it was rung up twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flux_core.parsing import schemas
from flux_core.parsing.distinct import DistinctIntegers, order_codes
from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.layouts import Layout
from flux_core.parsing.outliers import (
    ABSURD_QUANTITY,
    QuantityWatch,
    outlier_warnings,
)
from flux_core.parsing.records import Records, read_records
from flux_core.parsing.result import (
    DAILY_ROWS,
    ITEM_ROWS,
    ParsedUpload,
    combine_rejections,
    daily_rows,
    rejections,
)
from flux_core.parsing.source import Candidate, TextSource
from flux_core.parsing.table import TOTAL_LINE, ReadStats
from flux_core.parsing.values import (
    ARROW_TEXT,
    SPACE,
    TIME_SUFFIX,
    decimal_separator,
    expected_amount,
    expected_date,
    parse_amounts,
    read_dates,
)

# Merge the blocks' sums per (date text, item) once they hold this many more than twice the sums
# merged so far: memory stays within a few times the file's distinct (date text, item) pairs.
COMPACTION = 200_000
NO_DATA_LINES = "The file has a header but no data lines: there is nothing to load."
# Texts exports write where there is no item.
NO_ITEM = ("", "none", "null", "nan", "n/a", "-")
EXCLUSION_REASONS = {
    "toast_items": "voided in the point-of-sale system: not a sale",
    "square_items": "a refund, not a sale",
}
# A (date text, order) pair is one integer: the date text's code above, the order's below.
ORDER_BITS = 44
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()  # Arrow's date32 counts days from here
MAX_DATE_TEXTS = 1 << (64 - ORDER_BITS)


class _Column:
    """A column of a block, dictionary-encoded: the distinct texts (stripped) and a code per line."""

    def __init__(self, array: pa.Array) -> None:
        encoded = pc.dictionary_encode(array)
        self.codes: np.ndarray = encoded.indices.to_numpy(zero_copy_only=False)
        self.texts: pa.Array = pc.utf8_trim(encoded.dictionary, characters=SPACE)

    def per_line(self, flags: np.ndarray) -> np.ndarray:
        """A flag per distinct text, spread to the lines."""
        if not flags.any():
            return np.zeros(len(self.codes), dtype=bool)
        return flags[self.codes]

    def lower_in(self, words: tuple[str, ...]) -> np.ndarray:
        found = pc.is_in(pc.utf8_lower(self.texts), value_set=pa.array(words, pa.string()))
        return self.per_line(found.to_numpy(zero_copy_only=False))

    def empty(self) -> np.ndarray:
        return self.per_line(pc.equal(self.texts, "").to_numpy(zero_copy_only=False))

    def values(self, mask: np.ndarray) -> list[str]:
        return self.texts.take(pa.array(self.codes[mask])).to_pylist()

    def series(self) -> pd.Series:
        return pd.Series(pd.array(self.texts, dtype=ARROW_TEXT))

    def present(self, lines: np.ndarray) -> np.ndarray:
        """The distinct texts that the given lines (a mask) carry."""
        counts = np.bincount(self.codes[lines], minlength=len(self.texts))
        return np.flatnonzero(counts)


@dataclass
class _Totals:
    """What the blocks add up to, keyed by date text (its code) until the date format is known."""

    date_codes: dict[str, int] = field(default_factory=dict)
    item_codes: dict[str, int] = field(default_factory=dict)
    # Sums per (date code << 32 | item code): key, quantity, revenue arrays.
    items: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    orders: DistinctIntegers = field(default_factory=DistinctIntegers)
    # Per block: its first line and, per physical line from there, the date code of a kept line
    # (the dtype's maximum for any other line).
    line_dates: list[tuple[int, np.ndarray]] = field(default_factory=list)
    problems: list[pd.DataFrame] = field(default_factory=list)
    quantities: QuantityWatch = field(default_factory=QuantityWatch)
    rows: int = 0
    repeated_lines: int = 0
    decimal: str | None = None


def parse_line_items(
    source: TextSource, header: Candidate, layout: Layout, today: dt.date
) -> ParsedUpload:
    names = {role: header.cells[position] for role, position in layout.columns.items()}
    money = next((role for role in ("line_total", "unit_price") if role in layout.columns), None)
    totals = _Totals()
    stats = ReadStats()
    positions = sorted({0, *layout.columns.values(), *layout.exclusions})
    for records in read_records(source, header, positions):
        _add_block(records, totals, stats, layout, names, money, header, today)
    if totals.rows == 0:
        raise UnreadableUpload(NO_DATA_LINES)
    return _finish(totals, layout, names, money, today, stats)


def _add_block(
    records: Records,
    totals: _Totals,
    stats: ReadStats,
    layout: Layout,
    names: dict[str, str],
    money: str | None,
    header: Candidate,
    today: dt.date,
) -> None:
    roles = layout.columns
    date_at = roles["date"]
    # The day part of each timestamp, cut in Arrow's regex engine before encoding: a file of
    # minute-stamped lines has few days but many timestamps.
    dates = _Column(_day_part(records.cells[date_at]))
    columns = {p: _Column(records.cells[p]) for p in records.cells if p != date_at}
    columns[date_at] = dates
    too_many = records.too_many_fields
    blank = ~too_many
    for column in columns.values():
        blank &= column.empty()
    total = np.zeros(len(records), dtype=bool)
    for position in sorted({0, date_at}):
        labels = pc.match_substring_regex(columns[position].texts, TOTAL_LINE, ignore_case=True)
        total |= columns[position].per_line(labels.to_numpy(zero_copy_only=False))
    total &= ~blank
    stats.blank_lines += int(blank.sum())
    stats.total_lines += int(total.sum())
    keep = ~blank & ~total
    if not keep.any():
        return
    if not keep.all():
        for column in columns.values():
            column.codes = column.codes[keep]
        too_many = too_many[keep]
    lines = records.lines[keep]
    totals.rows += len(lines)
    bad = np.zeros(len(lines), dtype=bool)

    def reject(mask: np.ndarray, role: str | None, reason: str) -> None:
        """Rejects the lines in ``mask`` not rejected already (one reason per line)."""
        fresh = mask & ~bad
        if fresh.any():
            value = columns[roles[role]].values(fresh) if role else None
            totals.problems.append(
                rejections(lines[fresh], names[role] if role else None, value, reason)
            )
            bad[fresh] = True

    reject(
        too_many, None, f"the line has more fields than the header's {len(header.cells)} columns"
    )
    for position, markers in layout.exclusions.items():
        reason = EXCLUSION_REASONS.get(layout.format, "marked as not a sale in the export")
        reject(columns[position].lower_in(markers), None, reason)
    reject(dates.empty(), "date", "the date is missing")
    items = columns[roles["item"]]
    reject(items.lower_in(NO_ITEM), "item", "no item named on this line")
    if "order_id" in roles:
        reject(
            columns[roles["order_id"]].empty(), "order_id", "the order/transaction id is missing"
        )

    if totals.decimal is None:
        judged = [columns[roles[r]].series() for r in ("quantity", money) if r and r in roles]
        totals.decimal = decimal_separator(judged, header.delimiter)
    decimal = totals.decimal
    like = expected_amount(decimal)

    def amounts(
        role: str | None, absent: float, noun: str, not_read: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct text of the column: its value; and a code per line. An absent column is
        one value (``absent``) that every line has."""
        if role is None or role not in roles:
            return np.array([absent]), np.zeros(len(lines), dtype=np.int64)
        column = columns[roles[role]]
        parsed, invalid = parse_amounts(column.series(), decimal)
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        reject(column.per_line(invalid.to_numpy(dtype=bool)), role, f"{not_read} (like {like})")
        reject(column.per_line(np.isnan(values)), role, f"the {noun} is missing")
        return values, column.codes.astype(np.int64)

    quantity_values, quantity_codes = amounts(
        "quantity", 1.0, "quantity", "the quantity is not a number"
    )
    price_values, price_codes = amounts(
        money, np.nan, "price", "the price is not an amount of money"
    )

    _check_types(
        totals,
        columns,
        roles,
        names,
        money,
        lines,
        bad,
        quantity_values,
        quantity_codes,
        price_values,
        price_codes,
        today,
    )
    if "quantity" in roles:
        totals.repeated_lines += _repeated(columns, records.cells[date_at], keep)

    good = ~bad
    if not good.any():
        return
    quantity = quantity_values[quantity_codes[good]]
    price = price_values[price_codes[good]]
    revenue = price * quantity if money == "unit_price" else price
    date_map = _global_codes(dates, good, totals.date_codes)
    if len(totals.date_codes) >= MAX_DATE_TEXTS:
        raise UnreadableUpload("The date column holds too many different texts to be dates.")
    item_map = _global_codes(items, good, totals.item_codes)
    date_codes = date_map[dates.codes[good]]
    _remember_lines(totals, lines[good], date_codes)
    totals.items.append(
        _block_sums(dates.codes[good], date_map, items.codes[good], item_map, quantity, revenue)
    )
    pending = sum(len(keys) for keys, _, _ in totals.items)
    if len(totals.items) > 1 and pending > 2 * len(totals.items[0][0]) + COMPACTION:
        totals.items = [_sums_of(totals.items)]
    if "order_id" in roles:
        orders = columns[roles["order_id"]]
        per_text = order_codes(orders.texts, ORDER_BITS)
        pairs = (date_codes.astype(np.uint64) << np.uint64(ORDER_BITS)) | per_text[
            orders.codes[good]
        ]
        totals.orders.add(pairs)
    if "quantity" in roles:
        used = quantity_codes[good]
        totals.quantities.add(quantity_values, np.bincount(used, minlength=len(quantity_values)))
        large = quantity >= ABSURD_QUANTITY
        if large.any():
            totals.quantities.add_large(quantity[large], lines[good][large])


def _check_types(
    totals: _Totals,
    columns: dict[int, _Column],
    roles: dict[str, int],
    names: dict[str, str],
    money: str | None,
    lines: np.ndarray,
    bad: np.ndarray,
    quantity_values: np.ndarray,
    quantity_codes: np.ndarray,
    price_values: np.ndarray,
    price_codes: np.ndarray,
    today: dt.date,
) -> None:
    """pandera checks each distinct (quantity, price) of the block once; the lines that carry a
    failing pair are rejected with its reason."""
    good = ~bad
    pair = quantity_codes * len(price_values) + price_codes
    size = len(quantity_values) * len(price_values)
    if size <= 1 << 22:
        distinct = np.flatnonzero(np.bincount(pair[good], minlength=size))
    else:
        distinct = np.unique(pair[good])
    typed = pd.DataFrame(
        {
            "quantity": quantity_values[distinct // len(price_values)],
            "price": price_values[distinct % len(price_values)],
        }
    )
    failed = schemas.failures(schemas.line_item_schema(), typed, today)
    if failed.empty:
        return
    for index, column, reason in zip(
        failed["index"], failed["column"], failed["reason"], strict=True
    ):
        role = money if column == "price" else str(column)
        assert role is not None
        hit = good & (pair == distinct[index])
        totals.problems.append(
            rejections(
                lines[hit],
                names[role],
                columns[roles[role]].values(hit),
                str(reason).replace("price", "the price"),
            )
        )
    failing = distinct[failed["index"].to_numpy()]
    bad |= good & np.isin(pair, failing)


def _repeated(columns: dict[int, _Column], raw_dates: pa.Array, keep: np.ndarray) -> int:
    """Lines that repeat an earlier line of the block exactly (the timestamp too)."""
    key = np.zeros(len(next(iter(columns.values())).codes), dtype=np.int64)
    for column in columns.values():
        size = max(len(column.texts), 1)
        if key.max(initial=0) >= (1 << 62) // size:
            return 0  # too many combinations to pack: the warning is left out
        key = key * size + column.codes
    repeats = pd.Series(key).duplicated(keep=False).to_numpy()
    if not repeats.any():
        return 0
    # Same codes on every column but the date's time may still differ: compare the raw text.
    candidates = np.flatnonzero(repeats)
    kept_raw = raw_dates.filter(pa.array(keep)) if not keep.all() else raw_dates
    frame = pd.DataFrame(
        {"key": key[candidates], "date": kept_raw.take(pa.array(candidates)).to_pylist()}
    )
    return int(frame.duplicated().sum())


def _global_codes(column: _Column, good: np.ndarray, codes: dict[str, int]) -> np.ndarray:
    """The file's code (kept in ``codes``, text -> code) of each distinct text of the block that
    good lines carry (0 for the others)."""
    used = column.present(good)
    texts = column.texts.take(pa.array(used)).to_pylist()
    mapping = np.zeros(len(column.texts), dtype=np.int64)
    mapping[used] = [codes.setdefault(text, len(codes)) for text in texts]
    return mapping


def _day_part(raw: pa.Array) -> pa.Array:
    """The day part of each date/timestamp cell (``values.TIME_SUFFIX`` cut off).

    Exports write timestamps of one width ("13/08/2019 20:25"): then the day is a fixed prefix,
    and the regex runs on the few distinct rests (times) instead of on every line. Any doubt
    (widths differ, a rest that is not a time, a prefix that may hold part of one) and the regex
    runs on every line.
    """
    sample = pc.replace_substring_regex(raw.slice(0, 1000), TIME_SUFFIX, "")
    widths = pc.utf8_length(sample)
    width = pc.min(widths).as_py()
    if width and width == pc.max(widths).as_py():
        prefix = pc.utf8_slice_codeunits(raw, 0, width)
        rests = pc.unique(pc.utf8_slice_codeunits(raw, width))
        rests_are_times = pc.all(
            pc.match_substring_regex(rests, f"^(?:{TIME_SUFFIX})|^[{SPACE}]*$")
        ).as_py()
        if rests_are_times:
            days = pc.unique(prefix)
            doubtful = pc.match_substring_regex(days, f":|[ T{SPACE}]$")
            if not pc.any(doubtful).as_py():
                return prefix
    return pc.replace_substring_regex(raw, TIME_SUFFIX, "")


def _remember_lines(totals: _Totals, lines: np.ndarray, date_codes: np.ndarray) -> None:
    dtype = np.uint16 if len(totals.date_codes) < np.iinfo(np.uint16).max else np.uint32
    first = int(lines[0])
    dense = np.full(int(lines[-1]) - first + 1, np.iinfo(dtype).max, dtype=dtype)
    dense[lines - first] = date_codes
    totals.line_dates.append((first, dense))


def _block_sums(
    dates: np.ndarray,
    date_map: np.ndarray,
    items: np.ndarray,
    item_map: np.ndarray,
    quantity: np.ndarray,
    revenue: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums per (date, item) of a block, from its own codes: a block has a few thousand dates and
    a few hundred items, so the sums are counted in place (``bincount``), without sorting."""
    size = len(date_map) * len(item_map)
    if size > 1 << 21:
        return _sums(date_map[dates], item_map[items], quantity, revenue)
    index = dates * len(item_map) + items
    present = np.flatnonzero(np.bincount(index, minlength=size))
    keys = (date_map[present // len(item_map)] << 32) | item_map[present % len(item_map)]
    return (
        keys,
        np.bincount(index, weights=quantity, minlength=size)[present],
        np.bincount(index, weights=revenue, minlength=size)[present],
    )


def _sums(
    date_codes: np.ndarray, item_codes: np.ndarray, quantity: np.ndarray, revenue: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = (date_codes << 32) | item_codes
    if len(keys) == 0:
        return keys, quantity, revenue
    order = np.argsort(keys)
    keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return (
        keys[starts],
        np.add.reduceat(quantity[order], starts),
        np.add.reduceat(revenue[order], starts),
    )


def _sums_of(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys, quantity, revenue = (np.concatenate(a) for a in zip(*parts, strict=True))
    return _sums(keys >> 32, keys & 0xFFFFFFFF, quantity, revenue)


def _finish(
    totals: _Totals,
    layout: Layout,
    names: dict[str, str],
    money: str | None,
    today: dt.date,
    stats: ReadStats,
) -> ParsedUpload:
    warnings: list[str] = []
    if not totals.date_codes:
        return ParsedUpload(
            layout.format,
            DAILY_ROWS.empty_table(),
            ITEM_ROWS.empty_table(),
            combine_rejections(totals.problems),
            totals.rows,
            warnings,
        )
    keys = pd.Series(list(totals.date_codes), dtype="string")
    reading = read_dates(keys, today)
    if reading.note:
        warnings.append(reading.note)
    days = pd.DataFrame({"key": keys, "date": keys.map(reading.dates).astype(object)})
    unreadable = days["date"].isna()
    reasons = pd.Series(
        f"not a date as this file writes them (like {expected_date(reading.format)})",
        index=days.index,
        dtype=object,
    ).where(unreadable, None)
    readable = days.loc[~unreadable, ["date"]].reset_index(drop=True)
    failed = schemas.failures(schemas.day_schema(today), readable, today)
    if not failed.empty:
        first = failed.drop_duplicates("index")
        reasons.loc[days.index[~unreadable][first["index"].to_numpy()]] = first["reason"].to_numpy()
    bad_codes = np.flatnonzero(reasons.notna().to_numpy())
    if len(bad_codes):
        totals.problems.append(_bad_date_lines(totals, bad_codes, keys, reasons, names["date"]))
    # The date of each date code, as a day number (-1: rejected).
    ordinals = np.array(
        [
            -1 if r is not None or d is None else d.toordinal()
            for d, r in zip(days["date"], reasons, strict=True)
        ],
        dtype=np.int64,
    )

    item_keys, quantity, revenue = (
        _sums_of(totals.items)
        if totals.items
        else (np.array([], np.int64), np.array([]), np.array([]))
    )
    item_day = ordinals[item_keys >> 32]
    dated = item_day >= 0
    # Two date texts of one day (2019-08-13 and 13/08/2019) meet here.
    day_items, quantity, revenue = _sums(
        item_day[dated], (item_keys & 0xFFFFFFFF)[dated], quantity[dated], revenue[dated]
    )
    day = day_items >> 32
    item_names = pa.array(list(totals.item_codes), pa.string())
    item_rows = pa.table(
        {
            "date": pa.array((day - EPOCH_ORDINAL).astype(np.int32)).cast(pa.date32()),
            "item": item_names.take(pa.array(day_items & 0xFFFFFFFF)),
            "quantity": quantity,
            "revenue": revenue if money is not None else pa.nulls(len(day), pa.float64()),
        },
        schema=ITEM_ROWS,
    )
    items = pd.DataFrame({"day": day, "quantity": quantity, "revenue": revenue})
    per_day = items.groupby("day")
    measures = {"items": per_day["quantity"].sum()}
    if money is not None:
        measures["sales"] = per_day["revenue"].sum(min_count=1)
    if "order_id" in layout.columns:
        measures["orders"] = _orders_per_day(totals.orders, ordinals)
    wide = pd.DataFrame(measures)
    wide.index = _dates_of(wide.index.to_numpy())
    daily = pd.concat(
        [
            pd.DataFrame({"date": wide.index, "metric": metric, "value": wide[metric].to_numpy()})
            for metric in measures
        ],
        ignore_index=True,
    )
    daily = daily.dropna(subset=["value"]).sort_values(["date", "metric"], kind="stable")

    if totals.repeated_lines:
        warnings.append(
            f"{totals.repeated_lines} line(s) repeat an earlier line exactly; each was counted "
            "(an item rung up twice is listed twice)"
        )
    if stats.total_lines:
        warnings.append(f"{stats.total_lines} total/summary line(s) were skipped, not loaded")
    per_day_names = {
        "items": "items sold per day",
        "sales": "sales per day",
        "orders": "orders per day",
    }
    warnings += outlier_warnings(
        wide.rename_axis("date").reset_index(), list(measures), per_day_names, where="date"
    )
    absurd = totals.quantities.warning(names.get("quantity", "quantity"))
    if absurd:
        warnings.append(absurd)
    return ParsedUpload(
        format=layout.format,
        daily_rows=daily_rows(daily),
        item_rows=item_rows,
        rejected=combine_rejections(totals.problems),
        rows_total=totals.rows,
        warnings=warnings,
    )


def _orders_per_day(orders: DistinctIntegers, ordinals: np.ndarray) -> pd.Series:
    """Distinct orders per day from the distinct (date code, order) pairs, a bucket at a time
    (tens of millions of pairs in a large shuffled file)."""
    days = ordinals[ordinals >= 0]
    # Two date texts of one day (2019-08-13, 13/08/2019): an order may be under both.
    shared_days = len(np.unique(days)) != len(days)
    counts = np.zeros(len(ordinals), dtype=np.int64)  # per date code
    per_day = np.zeros(0, dtype=np.int64)  # per day number, when days are shared
    for pairs in orders.buckets():
        codes = (pairs >> np.uint64(ORDER_BITS)).astype(np.int64)
        if not shared_days:
            counts += np.bincount(codes, minlength=len(ordinals))
            continue
        day = ordinals[codes]
        dated = day >= 0
        low = pairs[dated] & np.uint64((1 << ORDER_BITS) - 1)
        # An order's low bits pick its bucket: its pairs of one day are all in this one.
        distinct = pd.unique((day[dated].astype(np.uint64) << np.uint64(ORDER_BITS)) | low)
        found = np.bincount((distinct >> np.uint64(ORDER_BITS)).astype(np.int64))
        if len(found) > len(per_day):
            found[: len(per_day)] += per_day
            per_day = found
        else:
            per_day[: len(found)] += found
    if not shared_days:
        dated = (ordinals >= 0) & (counts > 0)
        return pd.Series(counts[dated].astype(np.float64), index=ordinals[dated])
    day_of = np.flatnonzero(per_day)
    return pd.Series(per_day[day_of].astype(np.float64), index=day_of)


def _dates_of(ordinals: np.ndarray) -> np.ndarray:
    """datetime.date objects of day numbers, each day made once."""
    days, inverse = np.unique(ordinals, return_inverse=True)
    made = np.array([dt.date.fromordinal(int(d)) for d in days] + [None], dtype=object)[:-1]
    return made[inverse]


def _bad_date_lines(
    totals: _Totals, bad_codes: np.ndarray, keys: pd.Series, reasons: pd.Series, column: str
) -> pd.DataFrame:
    """Every kept line whose date text was refused, with that text and the reason."""
    lines: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for first, dense in totals.line_dates:
        hit = np.flatnonzero(np.isin(dense, bad_codes))
        if len(hit):
            lines.append(hit + first)
            codes.append(dense[hit].astype(np.int64))
    at = np.concatenate(codes) if codes else np.array([], dtype=np.int64)
    return rejections(
        pd.Series(np.concatenate(lines) if lines else at),
        column,
        pd.Series(keys.to_numpy(dtype=object)[at]),
        pd.Series(reasons.to_numpy(dtype=object)[at]),
    )
