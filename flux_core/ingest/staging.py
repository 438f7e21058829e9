"""Writing parsed uploads into staging, inside the caller's transaction: temporary tables filled
by COPY, one merge of many uploads' daily rows (checked with pandera first), item rows, rejected
lines, and the uploads' outcomes. ``loader`` decides what goes in which transaction."""

from __future__ import annotations

import datetime as dt
import io
import typing
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_core.db.tables import (
    staged_bookings,
    staged_item_sales,
    staged_sales,
    store_codes,
    uploads,
)
from flux_core.parsing.result import (
    ParsedUpload,
    combine_rejections,
    no_rejections,
    rejections,
)
from flux_core.parsing.schemas import staged_daily_violations

# Item names as exports write them can be long; the table keeps the first 500 characters.
ITEM_NAME_LIMIT = 500

# The temporary tables COPY writes into; they vanish at commit.
_temporary = sa.MetaData()
incoming = sa.Table(
    "incoming_sales",
    _temporary,
    sa.Column("upload", sa.Integer),  # the upload's position in ``incoming_uploads``
    sa.Column("metric", sa.Text),
    sa.Column("date", sa.Date),
    sa.Column("value", sa.Numeric(14, 2)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
incoming_uploads = sa.Table(
    "incoming_uploads",
    _temporary,
    sa.Column("upload", sa.Integer),
    sa.Column("tenant_id", sa.Uuid),
    sa.Column("upload_id", sa.Uuid),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
incoming_item_days = sa.Table(
    "incoming_item_days",
    _temporary,
    sa.Column("date", sa.Date),
    sa.Column("items", ARRAY(sa.Text)),
    sa.Column("quantities", ARRAY(sa.Numeric(14, 3))),
    sa.Column("revenues", ARRAY(sa.Numeric(14, 2))),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)

incoming_bookings = sa.Table(
    "incoming_bookings",
    _temporary,
    sa.Column("visit_date", sa.Date),
    sa.Column("booked_on", sa.Date),
    sa.Column("covers", sa.Numeric(10, 1)),
    sa.Column("bookings", sa.Integer),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


@dataclass
class Replaced:
    """What a load replaced: the days (of any metric or item) and the uploads that owned them."""

    days: set[dt.date] = field(default_factory=set)
    uploads: set[UUID] = field(default_factory=set)

    def add(self, rows: typing.Iterable[typing.Any]) -> None:
        for row in rows:
            self.days.add(row.date)
            self.uploads.add(row.upload_id)


class StagingRulesBroken(RuntimeError):
    """Parsed rows that staging must not take reached the loader: our bug, not the file's."""


class Tables:
    """The transaction's temporary tables: made on first use, emptied for each further use."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._made: set[str] = set()

    def fill(self, table: sa.Table, rows: pa.Table) -> None:
        """``rows``: the table's columns, in order (sent as CSV: COPY's fastest text input)."""
        if table.name in self._made:
            self._conn.execute(sa.delete(table))
        else:
            table.create(self._conn)
            self._made.add(table.name)
        names = ", ".join(c.name for c in table.columns)
        raw = self._conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy,
        ):
            buffer = io.BytesIO()
            pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False))
            copy.write(buffer.getbuffer())


@dataclass
class Staged:
    """One upload's parsed file on its way into staging."""

    row: typing.Any  # its uploads row (locked)
    parsed: ParsedUpload
    replaced: Replaced = field(default_factory=Replaced)
    # Days a later upload had already staged: that upload's rows stay (the later upload wins).
    kept: Replaced = field(default_factory=Replaced)
    written: int = 0
    items_written: int = 0
    bookings_written: int = 0


# Uploads in the order they were received: the later one's days win, whichever loads first.
_owner = uploads.alias("owner")
_incoming_upload = uploads.alias("incoming_upload")


def _received_later(
    owner_id: sa.ColumnElement[UUID], incoming_id: sa.ColumnElement[UUID]
) -> list[sa.ColumnElement[bool]]:
    """Conditions: the staged row's upload (``owner_id``) was received after ``incoming_id``."""
    return [
        _owner.c.upload_id == owner_id,
        _incoming_upload.c.upload_id == incoming_id,
        sa.tuple_(_owner.c.received_at, _owner.c.upload_id)
        > sa.tuple_(_incoming_upload.c.received_at, _incoming_upload.c.upload_id),
    ]


def _daily_rows(staged: list[Staged]) -> tuple[pa.Table, list[int]]:
    """Every upload's daily rows as one Arrow table keyed by position; the row count of each."""
    parts, counts = [], []
    for position, entry in enumerate(staged):
        rows = entry.parsed.daily_rows
        counts.append(rows.num_rows)
        if rows.num_rows == 0:
            continue
        parts.append(
            pa.table(
                {
                    "upload": pa.array(np.full(rows.num_rows, position, dtype=np.int32)),
                    "metric": rows["metric"],
                    "date": rows["date"],
                    "value": rows["value"],
                }
            )
        )
    if not parts:
        return pa.table({"upload": pa.array([], pa.int32())}), counts
    return pa.concat_tables(parts), counts


def _check_daily_rows(rows: pa.Table, staged: list[Staged], today: dt.date) -> None:
    """pandera over the whole batch at once (the plain reading of a daily file skips the per-file
    schema: its rules are checked here, in bulk, before anything is written)."""
    frame = pd.DataFrame(
        {
            "upload": rows["upload"].to_numpy().astype(np.int64),
            "metric": rows["metric"].to_pandas(),
            "date": pd.Series(rows["date"].to_numpy(), dtype="datetime64[s]"),
            "value": rows["value"].to_numpy(),
        }
    )
    failed = staged_daily_violations(frame, today)
    if failed.empty:
        return
    at = frame["upload"].to_numpy()[failed["index"].dropna().astype(np.int64).to_numpy()]
    names = sorted({str(staged[int(i)].row.upload_id) for i in at})
    raise StagingRulesBroken(
        f"rows breaking the staging rules ({', '.join(sorted(set(failed['check'])))}) "
        f"came out of parsing upload(s) {', '.join(names)}"
    )


def merge_daily(conn: sa.Connection, tables: Tables, staged: list[Staged], today: dt.date) -> None:
    """Insert or replace the (tenant, metric, day) rows of every upload, in one statement.

    Each tenant appears at most once in ``staged`` (a round): a row is written by one upload.
    """
    rows, counts = _daily_rows(staged)
    if rows.num_rows == 0:
        return
    _check_daily_rows(rows, staged, today)
    keys = pa.table(
        {
            "upload": pa.array(range(len(staged)), pa.int32()),
            "tenant_id": [str(s.row.tenant_id) for s in staged],
            "upload_id": [str(s.row.upload_id) for s in staged],
        }
    )
    tables.fill(incoming_uploads, keys)
    tables.fill(incoming, rows)

    # The rows about to be replaced, and whose they were: the upload history names them. Only
    # tenants with staged rows can have any (a first upload has none: no join to make at all).
    tenants: list[UUID] = list(
        conn.execute(
            sa.select(incoming_uploads.c.tenant_id).where(
                sa.exists().where(staged_sales.c.tenant_id == incoming_uploads.c.tenant_id)
            )
        ).scalars()
    )
    replaced: Sequence[typing.Any] = []
    kept: Sequence[typing.Any] = []
    if tenants:
        same_day = sa.and_(
            incoming_uploads.c.tenant_id == staged_sales.c.tenant_id,
            incoming.c.upload == incoming_uploads.c.upload,
            incoming.c.metric == staged_sales.c.metric,
            incoming.c.date == staged_sales.c.date,
            staged_sales.c.tenant_id.in_(tenants),
            staged_sales.c.upload_id != incoming_uploads.c.upload_id,
        )
        later = _received_later(staged_sales.c.upload_id, incoming_uploads.c.upload_id)
        # An earlier upload loaded after a later one (it had failed, say) takes none of the days
        # the later one staged: they leave the incoming rows, and are reported as kept.
        kept = conn.execute(
            sa.delete(incoming)
            .where(same_day, *later)
            .returning(incoming.c.upload, incoming.c.date, staged_sales.c.upload_id)
        ).all()
        replaced = conn.execute(
            sa.select(incoming_uploads.c.upload, staged_sales.c.date, staged_sales.c.upload_id)
            .select_from(staged_sales)
            .join(incoming_uploads, incoming_uploads.c.tenant_id == staged_sales.c.tenant_id)
            .join(incoming, same_day)
        ).all()
    by_upload: dict[int, list[typing.Any]] = defaultdict(list)
    for row in replaced:
        by_upload[row.upload].append(row)
    kept_by_upload: dict[int, list[typing.Any]] = defaultdict(list)
    for row in kept:
        kept_by_upload[row.upload].append(row)
    for position, entry in enumerate(staged):
        entry.replaced.add(by_upload.get(position, []))
        entry.kept.add(kept_by_upload.get(position, []))
        counts[position] -= len(kept_by_upload.get(position, []))

    select = sa.select(
        incoming_uploads.c.tenant_id,
        incoming.c.metric,
        incoming.c.date,
        incoming.c.value,
        incoming_uploads.c.upload_id,
    ).join_from(incoming, incoming_uploads, incoming.c.upload == incoming_uploads.c.upload)
    insert = pg_insert(staged_sales).from_select(
        ["tenant_id", "metric", "date", "value", "upload_id"], select
    )
    if replaced:
        statement = insert.on_conflict_do_update(
            index_elements=["tenant_id", "metric", "date"],
            set_={
                "value": insert.excluded.value,
                "upload_id": insert.excluded.upload_id,
                "loaded_at": sa.func.now(),
            },
        )
    else:
        # Nothing of these days is staged: a plain insert (a concurrent load that staged some
        # meanwhile makes it fail on the key, and the batch is loaded again upload by upload).
        statement = insert
    written = _count(conn, statement)
    if written != sum(counts):
        raise RuntimeError(f"staged {written} rows of {sum(counts)}")
    for entry, count in zip(staged, counts, strict=True):
        entry.written = count


def _count(conn: sa.Connection, statement: sa.Insert) -> int:
    """Rows an INSERT ... SELECT wrote (SQLAlchemy keeps the driver's count only when asked)."""
    return int(conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount)


def merge_items(
    conn: sa.Connection, tables: Tables, tenant_id: UUID, upload_id: UUID, items: pa.Table
) -> tuple[int, Sequence[typing.Any], Sequence[typing.Any]]:
    """Replace the tenant's item sales of every day the upload covers but those a later upload
    staged; returns the (day, item) pairs written, and the (date, upload_id) rows it replaced and
    those it left to the later upload.

    Whole days, not single items: an item sold on a day by the earlier upload but absent from
    the correction was not sold that day, so it must not survive the correction.
    """
    days, pairs = _item_days(items)
    tables.fill(incoming_item_days, days)
    # Days a later upload staged stay as it wrote them (see merge_daily).
    later = _received_later(
        staged_item_sales.c.upload_id, sa.literal(upload_id, staged_item_sales.c.upload_id.type)
    )
    kept = conn.execute(
        sa.delete(incoming_item_days)
        .where(
            staged_item_sales.c.tenant_id == tenant_id,
            staged_item_sales.c.date == incoming_item_days.c.date,
            *later,
        )
        .returning(
            incoming_item_days.c.date, incoming_item_days.c["items"], staged_item_sales.c.upload_id
        )
    ).all()
    if kept:
        pairs -= sum(len(row.items) for row in kept)
        gone = pa.array([row.date for row in kept], pa.date32())
        days = days.filter(pc.invert(pc.is_in(days["date"], value_set=gone)))
    covered = sa.select(incoming_item_days.c.date).scalar_subquery()
    replaced = conn.execute(
        sa.delete(staged_item_sales)
        .where(staged_item_sales.c.tenant_id == tenant_id, staged_item_sales.c.date.in_(covered))
        .returning(staged_item_sales.c.date, staged_item_sales.c.upload_id)
    ).all()
    columns = ["date", "items", "quantities", "revenues"]
    select = sa.select(
        sa.literal(tenant_id, staged_item_sales.c.tenant_id.type).label("tenant_id"),
        *(incoming_item_days.c[name] for name in columns),
        sa.literal(upload_id, staged_item_sales.c.upload_id.type).label("upload_id"),
    )
    insert = sa.insert(staged_item_sales).from_select(["tenant_id", *columns, "upload_id"], select)
    if _count(conn, insert) != days.num_rows:
        raise RuntimeError(f"staged fewer item days than the {days.num_rows} parsed")
    return pairs, replaced, kept


def bookings_of_tenant(
    conn: sa.Connection, tenant_id: UUID, rows: pa.Table
) -> tuple[pa.Table, pd.DataFrame]:
    """The bookings of a multi-store export that are this tenant's stores' (``store_codes``),
    and the other lines as rejections; a file without a store column is the tenant's own."""
    stores = rows["store"]
    if stores.null_count == len(stores):
        return rows, no_rejections()
    mine = pa.array(
        conn.execute(
            sa.select(store_codes.c.store_code).where(store_codes.c.tenant_id == tenant_id)
        )
        .scalars()
        .all(),
        pa.string(),
    )
    ours = pc.is_in(stores, value_set=mine)
    others = rows.filter(pc.invert(ours))
    refused = rejections(
        others["line_number"].to_pandas(),
        "store",
        others["store"].to_pandas(),
        "this store is not one of this restaurant's: its bookings are not loaded (an operator "
        "maps a store to its restaurant with `flux stores map`)",
    )
    return rows.filter(ours), refused


def stage_bookings(conn: sa.Connection, tables: Tables, entry: Staged) -> None:
    """A booking export's bookings of this tenant into staging; the other stores' lines join
    the upload's rejections."""
    assert entry.parsed.booking_rows is not None
    mine, refused = bookings_of_tenant(conn, entry.row.tenant_id, entry.parsed.booking_rows)
    if not refused.empty:
        entry.parsed = replace(
            entry.parsed,
            booking_rows=mine,
            rejected=combine_rejections([entry.parsed.rejected, refused]),
        )
    if mine.num_rows:
        entry.bookings_written, replaced, kept = merge_bookings(
            conn, tables, entry.row.tenant_id, entry.row.upload_id, mine
        )
        entry.replaced.add(replaced)
        entry.kept.add(kept)


def merge_bookings(
    conn: sa.Connection, tables: Tables, tenant_id: UUID, upload_id: UUID, rows: pa.Table
) -> tuple[int, Sequence[typing.Any], Sequence[typing.Any]]:
    """Replace the tenant's bookings of every visit day the upload covers but those a later
    upload staged (see merge_items); returns the bookings written, and the (date, upload_id)
    rows replaced and left to the later upload."""
    summed = (
        rows.group_by(["visit_date", "booked_on"], use_threads=False)
        .aggregate([("covers", "sum"), ("covers", "count")])
        .rename_columns(["visit_date", "booked_on", "covers", "bookings"])
    )
    tables.fill(incoming_bookings, summed.select(["visit_date", "booked_on", "covers", "bookings"]))
    later = _received_later(
        staged_bookings.c.upload_id, sa.literal(upload_id, staged_bookings.c.upload_id.type)
    )
    kept = conn.execute(
        sa.delete(incoming_bookings)
        .where(
            staged_bookings.c.tenant_id == tenant_id,
            staged_bookings.c.visit_date == incoming_bookings.c.visit_date,
            *later,
        )
        .returning(
            incoming_bookings.c.visit_date.label("date"),
            incoming_bookings.c.bookings,
            staged_bookings.c.upload_id,
        )
    ).all()
    covered = sa.select(incoming_bookings.c.visit_date).scalar_subquery()
    replaced = conn.execute(
        sa.delete(staged_bookings)
        .where(staged_bookings.c.tenant_id == tenant_id, staged_bookings.c.visit_date.in_(covered))
        .returning(staged_bookings.c.visit_date.label("date"), staged_bookings.c.upload_id)
    ).all()
    columns = ["visit_date", "booked_on", "covers", "bookings"]
    select = sa.select(
        sa.literal(tenant_id, staged_bookings.c.tenant_id.type).label("tenant_id"),
        *(incoming_bookings.c[name] for name in columns),
        sa.literal(upload_id, staged_bookings.c.upload_id.type).label("upload_id"),
    )
    _count(
        conn, sa.insert(staged_bookings).from_select(["tenant_id", *columns, "upload_id"], select)
    )
    written: int = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(incoming_bookings.c.bookings), 0))
    ).scalar_one()
    return int(written), replaced, kept


def _item_days(items: pa.Table) -> tuple[pa.Table, int]:
    """One row per day: the day's items, quantities and revenues as PostgreSQL array literals
    (``{"Plain Naan","Mushroom Rice"}``, ``{2,1}``, ``{5.2,3.95}``), built in Arrow; and the
    number of (day, item) pairs.

    Names are cut to ``ITEM_NAME_LIMIT`` characters; two long names that share their first
    characters are one item, whose sales are summed again.
    """
    rows = items
    if (pc.max(pc.utf8_length(items["item"])).as_py() or 0) > ITEM_NAME_LIMIT:
        cut = pc.utf8_slice_codeunits(items["item"], 0, ITEM_NAME_LIMIT)
        summed = (
            items.set_column(1, "item", cut)
            .group_by(["date", "item"], use_threads=False)
            .aggregate([("quantity", "sum"), ("revenue", "sum")])
        )
        rows = summed.select(["date", "item", "quantity_sum", "revenue_sum"]).rename_columns(
            rows.column_names
        )
    rows = rows.sort_by([("date", "ascending")])
    dates = rows["date"].to_numpy()
    new_day = np.ones(len(dates), dtype=bool)
    new_day[1:] = dates[1:] != dates[:-1]
    starts = np.flatnonzero(new_day)
    offsets = pa.array(np.append(starts, len(dates)).astype(np.int32))

    names = pc.dictionary_encode(rows["item"]).combine_chunks()
    escaped = pc.replace_substring(names.dictionary, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "").take(names.indices)

    def listed(texts: pa.Array) -> pa.Array:
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets, texts), ",")
        return pc.binary_join_element_wise("{", joined, "}", "")

    def numbers(column: str) -> pa.Array:
        return pc.fill_null(pc.cast(rows[column].combine_chunks(), pa.string()), "NULL")

    days = pa.table(
        {
            "date": pa.array(dates[starts]),
            "items": listed(quoted),
            "quantities": listed(numbers("quantity")),
            "revenues": listed(numbers("revenue")),
        }
    )
    return days, rows.num_rows


def rejection_rows(entry: Staged) -> list[dict[str, object]]:
    if entry.parsed.rejected.empty:
        return []  # most uploads; itertuples would still build its row class
    return [
        {
            "tenant_id": entry.row.tenant_id,
            "upload_id": entry.row.upload_id,
            "line_number": None if pd.isna(r.line_number) else int(r.line_number),
            "column_name": None if pd.isna(r.column_name) else str(r.column_name),
            "value": None if pd.isna(r.value) else str(r.value)[:500],
            "reason": str(r.reason),
        }
        for r in entry.parsed.rejected.itertuples(index=False)
    ]


_SETTLE_COLUMNS = {
    "loaded": (
        "status",
        "format",
        "rows_total",
        "rows_loaded",
        "rows_rejected",
        "date_min",
        "date_max",
        "days_replaced",
        "replaced_uploads",
        "warnings",
        "error",
    ),
    "duplicate": ("status", "error", "rows_loaded"),
    "rejected": ("status", "error", "rows_loaded", "rows_rejected"),
}


def settle(conn: sa.Connection, status: str, settled: list[dict[str, object]]) -> None:
    """Sets the outcome of these uploads (all of one status) in one executemany."""
    if not settled:
        return
    columns = _SETTLE_COLUMNS[status]
    statement = (
        sa.update(uploads)
        .where(uploads.c.upload_id == sa.bindparam("settled_upload_id"))
        .values(
            processed_at=sa.func.now(),
            **{c: sa.bindparam(f"settled_{c}", type_=uploads.c[c].type) for c in columns},
        )
    )
    conn.execute(
        statement,
        [
            {"settled_upload_id": values["upload_id"]}
            | {f"settled_{c}": values[c] for c in columns}
            for values in settled
        ],
    )
