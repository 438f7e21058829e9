"""Writing parsed uploads into staging, inside the caller's transaction: temporary tables filled
by COPY, one merge of many uploads' daily rows (checked with pandera first), item rows, rejected
lines, and the uploads' outcomes. ``loader`` decides what goes in which transaction."""

from __future__ import annotations

import datetime as dt
import io
import typing
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_pipelines.db.tables import staged_item_sales, staged_sales, uploads
from flux_pipelines.defs.ingest.parsing import ParsedUpload
from flux_pipelines.defs.ingest.schemas import staged_daily_violations

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
incoming_items = sa.Table(
    "incoming_item_sales",
    _temporary,
    sa.Column("date", sa.Date),
    sa.Column("item", sa.Text),
    sa.Column("quantity", sa.Numeric(14, 3)),
    sa.Column("revenue", sa.Numeric(14, 2)),
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

    def fill(self, table: sa.Table, data: bytes) -> None:
        """``data``: CSV lines of the table's columns, in order."""
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
            copy.write(data)


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    return buffer.getvalue().encode()


def _arrow_csv(frame: pd.DataFrame) -> bytes:
    """As ``_csv`` for plain columns (no Python objects), about 6x faster on a large export's
    item rows, where pandas' writer was a quarter of the load."""
    buffer = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


@dataclass
class Staged:
    """One upload's parsed file on its way into staging."""

    row: typing.Any  # its uploads row (locked)
    parsed: ParsedUpload
    replaced: Replaced = field(default_factory=Replaced)
    written: int = 0
    items_written: int = 0


def _arrow(column: pd.Series, kind: pa.DataType) -> pa.Array:
    """A column as Arrow of this type, whatever its pandas dtype (object dates, Arrow, NumPy)."""
    array = pa.array(column.to_numpy(dtype=object) if column.dtype == object else column)
    return array if array.type == kind else array.cast(kind)


def _daily_rows(staged: list[Staged]) -> tuple[pa.Table, list[int]]:
    """Every upload's daily rows as one Arrow table keyed by position; the row count of each."""
    parts, counts = [], []
    for position, entry in enumerate(staged):
        daily = entry.parsed.daily
        counts.append(len(daily))
        if daily.empty:
            continue
        parts.append(
            pa.table(
                {
                    "upload": pa.array(np.full(len(daily), position, dtype=np.int32)),
                    "metric": _arrow(daily["metric"], pa.string()),
                    "date": _arrow(daily["date"], pa.date32()),
                    "value": _arrow(daily["value"], pa.float64()),
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
    keys = pd.DataFrame(
        {
            "upload": range(len(staged)),
            "tenant_id": [s.row.tenant_id for s in staged],
            "upload_id": [s.row.upload_id for s in staged],
        }
    )
    tables.fill(incoming_uploads, _csv(keys))
    buffer = io.BytesIO()
    pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False))
    tables.fill(incoming, buffer.getvalue())

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
    if tenants:
        replaced = conn.execute(
            sa.select(incoming_uploads.c.upload, staged_sales.c.date, staged_sales.c.upload_id)
            .select_from(staged_sales)
            .join(incoming_uploads, incoming_uploads.c.tenant_id == staged_sales.c.tenant_id)
            .join(
                incoming,
                sa.and_(
                    incoming.c.upload == incoming_uploads.c.upload,
                    incoming.c.metric == staged_sales.c.metric,
                    incoming.c.date == staged_sales.c.date,
                ),
            )
            .where(
                staged_sales.c.tenant_id.in_(tenants),
                staged_sales.c.upload_id != incoming_uploads.c.upload_id,
            )
        ).all()
    by_upload: dict[int, list[typing.Any]] = defaultdict(list)
    for row in replaced:
        by_upload[row.upload].append(row)
    for position, entry in enumerate(staged):
        entry.replaced.add(by_upload.get(position, []))

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
    conn: sa.Connection, tables: Tables, tenant_id: UUID, upload_id: UUID, items: pd.DataFrame
) -> tuple[int, Sequence[typing.Any]]:
    """Replace the tenant's item rows of every day the upload covers; returns the rows written
    and the (date, upload_id) rows it replaced.

    Whole days, not single items: an item sold on a day by the earlier upload but absent from
    the correction was not sold that day, so it must not survive the correction.
    """
    frame = _item_rows(items)
    tables.fill(incoming_items, _arrow_csv(frame[[c.name for c in incoming_items.columns]]))
    covered = sa.select(incoming_items.c.date).distinct().scalar_subquery()
    replaced = conn.execute(
        sa.delete(staged_item_sales)
        .where(staged_item_sales.c.tenant_id == tenant_id, staged_item_sales.c.date.in_(covered))
        .returning(staged_item_sales.c.date, staged_item_sales.c.upload_id)
    ).all()
    select = sa.select(
        sa.literal(tenant_id, staged_item_sales.c.tenant_id.type).label("tenant_id"),
        incoming_items.c.date,
        incoming_items.c.item,
        incoming_items.c.quantity,
        incoming_items.c.revenue,
        sa.literal(upload_id, staged_item_sales.c.upload_id.type).label("upload_id"),
    )
    insert = sa.insert(staged_item_sales).from_select(
        ["tenant_id", "date", "item", "quantity", "revenue", "upload_id"], select
    )
    return _count(conn, insert), replaced


def _item_rows(items: pd.DataFrame) -> pd.DataFrame:
    """Items keyed as the table keys them: names cut to the column's limit, then summed again
    (two long names that share their first 500 characters are one item)."""
    named = items.assign(item=items["item"].astype(str).str.slice(0, ITEM_NAME_LIMIT))
    grouped = named.groupby(["date", "item"], sort=False)
    return pd.DataFrame(
        {"quantity": grouped["quantity"].sum(), "revenue": grouped["revenue"].sum(min_count=1)}
    ).reset_index()


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
