"""Line-item exports (one line per item sold) aggregated to daily sales, orders and items.

Read in chunks: each chunk is reduced to per-day sums keyed by its date *text*, so the date format
can be chosen from the whole file at the end (day-first vs month-first) without a second pass.

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

from flux_pipelines.defs.ingest import schemas
from flux_pipelines.defs.ingest.parsing.layouts import Layout
from flux_pipelines.defs.ingest.parsing.result import (
    DAILY_COLUMNS,
    ITEM_COLUMNS,
    ParsedUpload,
    UnreadableUpload,
    combine_rejections,
    rejections,
)
from flux_pipelines.defs.ingest.parsing.source import Candidate, TextSource
from flux_pipelines.defs.ingest.parsing.table import ReadStats, read_chunks
from flux_pipelines.defs.ingest.parsing.values import (
    date_keys,
    decimal_separator,
    expected_amount,
    expected_date,
    parse_amounts,
    read_dates,
)

# Merge the chunks' partial results every so many chunks, so repeats across chunks don't pile up.
COMPACTION = 8
NO_DATA_LINES = "The file has a header but no data lines: there is nothing to load."
# Texts exports write where there is no item.
NO_ITEM = ("", "none", "null", "nan", "n/a", "-")
EXCLUSION_REASONS = {
    "toast_items": "voided in the point-of-sale system: not a sale",
    "square_items": "a refund, not a sale",
}


@dataclass
class _Totals:
    """What the chunks add up to, keyed by date text until the date format is known."""

    days: list[pd.DataFrame] = field(default_factory=list)  # key, revenue, quantity
    orders: list[pd.DataFrame] = field(default_factory=list)  # key, order hash (distinct)
    items: list[pd.DataFrame] = field(default_factory=list)  # key, item, quantity, revenue
    # Kept lines as runs of consecutive lines with one date text: code (of key_codes), first, last.
    lines: list[pd.DataFrame] = field(default_factory=list)
    key_codes: dict[str, int] = field(default_factory=dict)
    problems: list[pd.DataFrame] = field(default_factory=list)
    rows: int = 0
    repeated_lines: int = 0


def parse_line_items(
    source: TextSource, header: Candidate, layout: Layout, today: dt.date
) -> ParsedUpload:
    columns = layout.columns
    names = {role: header.cells[position] for role, position in columns.items()}
    money = next((role for role in ("line_total", "unit_price") if role in columns), None)
    totals = _Totals()
    stats = ReadStats()
    positions = [*columns.values(), *layout.exclusions]
    decimal: str | None = None
    schema = schemas.line_item_schema()

    for chunk in read_chunks(source, header, positions, columns["date"], stats):
        cells, lines = chunk.cells, chunk.lines
        totals.rows += len(cells)
        if decimal is None:
            judged = [cells[columns[r]] for r in ("quantity", money) if r and r in columns]
            decimal = decimal_separator(judged, header.delimiter)
        bad = chunk.too_many_fields.copy()
        totals.problems.append(
            rejections(
                lines[bad],
                None,
                None,
                f"the line has more fields than the header's {len(header.cells)} columns",
            )
        )

        def reject(
            mask: pd.Series,
            role: str | None,
            reason: str,
            bad: pd.Series,
            cells: pd.DataFrame = cells,
            lines: pd.Series = lines,
        ) -> pd.Series:
            """Rejects the lines in ``mask`` not rejected already (one reason per line)."""
            fresh = mask & ~bad
            value = cells.loc[fresh, columns[role]] if role else None
            totals.problems.append(
                rejections(lines[fresh], names[role] if role else None, value, reason)
            )
            return bad | fresh

        for position, markers in layout.exclusions.items():
            excluded = cells[position].str.lower().isin(markers)
            reason = EXCLUSION_REASONS.get(layout.format, "marked as not a sale in the export")
            bad = reject(excluded, None, reason, bad)
        bad = reject(cells[columns["date"]] == "", "date", "the date is missing", bad)
        item = cells[columns["item"]]
        bad = reject(item.str.lower().isin(NO_ITEM), "item", "no item named on this line", bad)
        if "order_id" in columns:
            missing_order = cells[columns["order_id"]] == ""
            bad = reject(missing_order, "order_id", "the order/transaction id is missing", bad)

        if "quantity" in columns:
            quantity, invalid = parse_amounts(cells[columns["quantity"]], decimal)
            bad = reject(
                invalid,
                "quantity",
                f"the quantity is not a number (like {expected_amount(decimal)})",
                bad,
            )
            bad = reject(quantity.isna(), "quantity", "the quantity is missing", bad)
        else:
            quantity = pd.Series(1.0, index=cells.index)
        revenue = price = pd.Series(float("nan"), index=cells.index)
        if money is not None:
            price, invalid = parse_amounts(cells[columns[money]], decimal)
            bad = reject(
                invalid,
                money,
                f"the price is not an amount of money (like {expected_amount(decimal)})",
                bad,
            )
            bad = reject(price.isna(), money, "the price is missing", bad)
            revenue = price * quantity if money == "unit_price" else price

        typed = pd.DataFrame(
            {"line_number": lines.astype("int64"), "quantity": quantity, "price": price}
        )[~bad]
        failed = schemas.failures(schema, typed.reset_index(drop=True), today)
        if not failed.empty:
            at = typed.index[failed["index"].to_numpy()]
            roles = failed["column"].map(lambda c: money if c == "price" else c)
            totals.problems.append(
                pd.DataFrame(
                    {
                        "line_number": typed.loc[at, "line_number"].to_numpy(),
                        "column_name": [names.get(str(r), r) for r in roles],
                        "value": [
                            cells.at[i, columns[str(r)]] for i, r in zip(at, roles, strict=True)
                        ],
                        "reason": failed["reason"].str.replace("price", "the price").to_numpy(),
                    }
                )
            )
            bad.loc[at] = True

        good = ~bad
        keys = date_keys(cells.loc[good, columns["date"]]).astype("category")
        kept = pd.DataFrame(
            {
                "key": keys,
                "item": item[good],
                "quantity": quantity[good],
                "revenue": revenue[good],
            }
        )
        totals.lines.append(_runs(lines[good], keys, totals.key_codes))
        by_key = kept.groupby("key", observed=True)
        totals.days.append(
            pd.DataFrame(
                {
                    "quantity": by_key["quantity"].sum(),
                    "revenue": by_key["revenue"].sum(min_count=1),
                }
            ).reset_index()
        )
        totals.items.append(_per_item(kept, ["key", "item"]))
        if len(totals.items) >= COMPACTION:
            merged = pd.concat(totals.items, ignore_index=True)
            totals.items = [_per_item(merged, ["key", "item"])]
        if "order_id" in columns:
            orders = pd.DataFrame({"key": keys, "order": cells.loc[good, columns["order_id"]]})
            totals.orders.append(_distinct_orders(orders))
            if len(totals.orders) >= COMPACTION:
                totals.orders = [_distinct_orders(pd.concat(totals.orders, ignore_index=True))]
        if "quantity" in columns:
            totals.repeated_lines += int(cells.duplicated().sum())

    if totals.rows == 0:
        raise UnreadableUpload(NO_DATA_LINES)
    return _finish(totals, layout, names, money, today, stats)


def _runs(lines: pd.Series, keys: pd.Series, codes: dict[str, int]) -> pd.DataFrame:
    """Run-length form of (line, date text), as int32 codes: one row per run of lines on the same
    day, so a sorted export of millions of lines keeps a few thousand rows here."""
    numbers = lines.to_numpy(dtype="int64")
    if len(numbers) == 0:
        return pd.DataFrame({"code": [], "first": [], "last": []}, dtype="int32")
    inverse, distinct = pd.factorize(keys.astype(str))
    known = np.array([codes.setdefault(str(k), len(codes)) for k in distinct], dtype="int32")
    code = known[inverse]
    breaks = np.flatnonzero((np.diff(numbers) != 1) | (code[1:] != code[:-1])) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks - 1, [len(numbers) - 1]])
    return pd.DataFrame(
        {
            "code": code[starts],
            "first": numbers[starts].astype("int32"),
            "last": numbers[ends].astype("int32"),
        }
    )


def _expand(runs: pd.DataFrame) -> pd.Series:
    if runs.empty:
        return pd.Series([], dtype="int64")
    return pd.Series(
        np.concatenate(
            [np.arange(a, b + 1) for a, b in zip(runs["first"], runs["last"], strict=True)]
        )
    )


def _repeat(runs: pd.DataFrame, column: str) -> pd.Series:
    counts = (runs["last"] - runs["first"] + 1).to_numpy()
    return pd.Series(np.repeat(runs[column].to_numpy(dtype=object), counts), dtype=object)


def _distinct_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Distinct (date text, order) pairs, orders kept as 64-bit hashes to bound memory."""
    if orders["order"].dtype != np.uint64:
        orders = pd.DataFrame(
            {
                "key": orders["key"].astype(str),
                "order": pd.util.hash_array(orders["order"].astype(str).to_numpy(dtype=object)),
            }
        )
    return orders.drop_duplicates(ignore_index=True)


def _per_item(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys, observed=True)
    # min_count=1: a day whose lines have no price has unknown revenue, not zero.
    return pd.DataFrame(
        {"quantity": grouped["quantity"].sum(), "revenue": grouped["revenue"].sum(min_count=1)}
    ).reset_index()


def _finish(
    totals: _Totals,
    layout: Layout,
    names: dict[str, str],
    money: str | None,
    today: dt.date,
    stats: ReadStats,
) -> ParsedUpload:
    warnings: list[str] = []
    lines = pd.concat(totals.lines, ignore_index=True) if totals.lines else pd.DataFrame()
    empty_daily = pd.DataFrame({c: pd.Series(dtype=object) for c in DAILY_COLUMNS})
    if lines.empty:
        return ParsedUpload(
            layout.format,
            empty_daily.astype({"value": "float64"}),
            pd.DataFrame({c: pd.Series(dtype=object) for c in ITEM_COLUMNS}),
            combine_rejections(totals.problems),
            totals.rows,
            warnings,
        )
    keys = pd.Series(list(totals.key_codes), dtype="string")
    reading = read_dates(keys, today)
    if reading.note:
        warnings.append(reading.note)
    days = pd.DataFrame({"key": reading.dates.index, "date": reading.dates.to_numpy()})
    unreadable = days["date"].isna()
    reasons = pd.Series(
        f"not a date as this file writes them (like {expected_date(reading.format)})",
        index=days.index,
        dtype=object,
    ).where(unreadable, None)
    readable = days[~unreadable].reset_index(drop=True)
    failed = schemas.failures(schemas.day_schema(today), readable, today)
    if not failed.empty:
        first = failed.drop_duplicates("index")
        reasons.loc[days.index[~unreadable][first["index"].to_numpy()]] = first["reason"].to_numpy()
    bad_days = days.assign(reason=reasons)[reasons.notna()]
    if not bad_days.empty:
        codes = pd.Series(totals.key_codes)
        bad_days = bad_days.assign(code=bad_days["key"].astype(str).map(codes).astype("int64"))
        hit = lines.merge(bad_days, on="code")
        totals.problems.append(
            rejections(_expand(hit), names["date"], _repeat(hit, "key"), _repeat(hit, "reason"))
        )
    dates = days[reasons.isna()].set_index("key")["date"]

    def dated(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frame = pd.concat(frames, ignore_index=True)
        frame["date"] = frame["key"].astype(str).map(dates).astype(object)
        return frame.dropna(subset=["date"]).drop(columns="key")

    per_day = dated(totals.days).groupby("date")
    measures = {"items": per_day["quantity"].sum()}
    if money is not None:
        measures["sales"] = per_day["revenue"].sum(min_count=1)
    if totals.orders:
        orders = dated(totals.orders).drop_duplicates()
        measures["orders"] = orders.groupby("date")["order"].size().astype("float64")
    daily = pd.concat(
        [
            pd.DataFrame({"date": series.index, "metric": metric, "value": series.to_numpy()})
            for metric, series in measures.items()
        ],
        ignore_index=True,
    )
    daily = daily.dropna(subset=["value"]).sort_values(["date", "metric"], kind="stable")
    items = _per_item(dated(totals.items), ["date", "item"])
    if totals.repeated_lines:
        warnings.append(
            f"{totals.repeated_lines} line(s) repeat an earlier line exactly; each was counted "
            "(an item rung up twice is listed twice)"
        )
    if stats.total_lines:
        warnings.append(f"{stats.total_lines} total/summary line(s) were skipped, not loaded")
    return ParsedUpload(
        format=layout.format,
        daily=daily[DAILY_COLUMNS].reset_index(drop=True).astype({"value": "float64"}),
        items=items[ITEM_COLUMNS].astype(
            {"item": str, "quantity": "float64", "revenue": "float64"}
        ),
        rejected=combine_rejections(totals.problems),
        rows_total=totals.rows,
        warnings=warnings,
    )
