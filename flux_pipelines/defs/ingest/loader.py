"""Loading one upload into ``flux.staged_sales`` (and ``flux.staged_item_sales``), exactly once.

Everything about one upload happens in ONE transaction: the upload row is locked, the file parsed,
valid rows COPY'd into temporary tables and merged into staging (a later upload of the same days
replaces them: a correction, recorded on the upload with the uploads it replaced), rejected rows
recorded, and the status set. A crash or a dropped connection at any point rolls all of it back, so
running the load again converges to exactly the rows of one clean load; an upload that is already
settled is left alone.
"""

from __future__ import annotations

import datetime as dt
import io
import typing
from dataclasses import dataclass, field
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_pipelines.db.tables import rejected_rows, staged_item_sales, staged_sales, uploads
from flux_pipelines.defs.ingest.parsing import ParsedUpload, UnreadableUpload, parse_upload
from flux_pipelines.landing import LandingZone

SETTLED = ("loaded", "rejected", "duplicate")
# Item names as exports write them can be long; the table keeps the first 500 characters.
ITEM_NAME_LIMIT = 500

# The temporary tables COPY writes into; they vanish at commit.
_temporary = sa.MetaData()
incoming = sa.Table(
    "incoming_sales",
    _temporary,
    sa.Column("metric", sa.Text),
    sa.Column("date", sa.Date),
    sa.Column("value", sa.Numeric(14, 2)),
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


@dataclass(frozen=True)
class LoadOutcome:
    upload_id: UUID
    tenant_id: UUID
    status: str
    format: str | None = None
    rows_total: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    days_replaced: int = 0
    days_written: int = 0
    error: str | None = None
    skipped: bool = False
    replaced_uploads: tuple[UUID, ...] = ()
    items_written: int = 0
    warnings: tuple[str, ...] = field(default=())


@dataclass
class _Replaced:
    """What a load replaced: the days (of any metric or item) and the uploads that owned them."""

    days: set[dt.date] = field(default_factory=set)
    uploads: set[UUID] = field(default_factory=set)

    def add(self, rows: sa.Result[typing.Any]) -> None:
        for row in rows:
            self.days.add(row.date)
            self.uploads.add(row.upload_id)


def pending_uploads(conn: sa.Connection, tenant_id: UUID) -> list[UUID]:
    """Uploads of a tenant not settled yet, oldest first, so the newest correction wins."""
    return list(
        conn.execute(
            sa.select(uploads.c.upload_id)
            .where(uploads.c.tenant_id == tenant_id, uploads.c.status.not_in(SETTLED))
            .order_by(uploads.c.received_at, uploads.c.upload_id)
        ).scalars()
    )


def _copy(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    table.create(conn)
    names = [c.name for c in table.columns]
    buffer = io.StringIO()
    frame[names].to_csv(buffer, index=False, header=False)
    raw = conn.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT csv)") as copy,
    ):
        copy.write(buffer.getvalue())


def _count(conn: sa.Connection, statement: sa.Insert) -> int:
    """Rows an INSERT ... SELECT wrote (SQLAlchemy keeps the driver's count only when asked)."""
    return int(conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount)


def _merge_into_staging(
    conn: sa.Connection, tenant_id: UUID, upload_id: UUID, replaced: _Replaced
) -> int:
    """Insert or replace the tenant's (metric, day) rows; returns the rows written."""
    # The rows about to be replaced, and whose they were: the upload history names them.
    replaced.add(
        conn.execute(
            sa.select(staged_sales.c.date, staged_sales.c.upload_id)
            .join(
                incoming,
                sa.and_(
                    incoming.c.metric == staged_sales.c.metric,
                    incoming.c.date == staged_sales.c.date,
                ),
            )
            .where(staged_sales.c.tenant_id == tenant_id, staged_sales.c.upload_id != upload_id)
            .distinct()
        )
    )
    select = sa.select(
        sa.literal(tenant_id, staged_sales.c.tenant_id.type).label("tenant_id"),
        incoming.c.metric,
        incoming.c.date,
        incoming.c.value,
        sa.literal(upload_id, staged_sales.c.upload_id.type).label("upload_id"),
    )
    insert = pg_insert(staged_sales).from_select(
        ["tenant_id", "metric", "date", "value", "upload_id"], select
    )
    statement = insert.on_conflict_do_update(
        index_elements=["tenant_id", "metric", "date"],
        set_={
            "value": insert.excluded.value,
            "upload_id": insert.excluded.upload_id,
            "loaded_at": sa.func.now(),
        },
    )
    return _count(conn, statement)


def _merge_items(conn: sa.Connection, tenant_id: UUID, upload_id: UUID, replaced: _Replaced) -> int:
    """Replace the tenant's item rows of every day the upload covers; returns the rows written.

    Whole days, not single items: an item sold on a day by the earlier upload but absent from
    the correction was not sold that day, so it must not survive the correction.
    """
    covered = sa.select(incoming_items.c.date).distinct().scalar_subquery()
    replaced.add(
        conn.execute(
            sa.delete(staged_item_sales)
            .where(
                staged_item_sales.c.tenant_id == tenant_id, staged_item_sales.c.date.in_(covered)
            )
            .returning(staged_item_sales.c.date, staged_item_sales.c.upload_id)
        )
    )
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
    return _count(conn, insert)


def _item_rows(items: pd.DataFrame) -> pd.DataFrame:
    """Items keyed as the table keys them: names cut to the column's limit, then summed again
    (two long names that share their first 500 characters are one item)."""
    named = items.assign(item=items["item"].astype(str).str.slice(0, ITEM_NAME_LIMIT))
    grouped = named.groupby(["date", "item"], sort=False)
    return pd.DataFrame(
        {"quantity": grouped["quantity"].sum(), "revenue": grouped["revenue"].sum(min_count=1)}
    ).reset_index()


def _record_rejections(
    conn: sa.Connection, tenant_id: UUID, upload_id: UUID, rejected: pd.DataFrame
) -> None:
    if rejected.empty:
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "upload_id": upload_id,
            "line_number": None if pd.isna(r.line_number) else int(r.line_number),
            "column_name": None if pd.isna(r.column_name) else str(r.column_name),
            "value": None if pd.isna(r.value) else str(r.value)[:500],
            "reason": str(r.reason),
        }
        for r in rejected.itertuples(index=False)
    ]
    conn.execute(sa.insert(rejected_rows), rows)


def _settle(conn: sa.Connection, upload_id: UUID, **values: object) -> None:
    conn.execute(
        sa.update(uploads)
        .where(uploads.c.upload_id == upload_id)
        .values(processed_at=sa.func.now(), **values)
    )


def load_upload(
    engine: sa.Engine, zone: LandingZone, upload_id: UUID, today: dt.date | None = None
) -> LoadOutcome:
    today = today or dt.date.today()
    with engine.begin() as conn:
        # The row lock makes a second, concurrent load of the same upload wait, then see it settled.
        row = conn.execute(
            sa.select(uploads).where(uploads.c.upload_id == upload_id).with_for_update()
        ).one()
        if row.status in SETTLED:
            return LoadOutcome(upload_id, row.tenant_id, row.status, row.format, skipped=True)

        earlier = conn.execute(
            sa.select(uploads.c.upload_id).where(
                uploads.c.tenant_id == row.tenant_id,
                uploads.c.content_sha256 == row.content_sha256,
                uploads.c.status == "loaded",
                uploads.c.upload_id != upload_id,
            )
        ).scalar()
        if earlier is not None:
            message = (
                f"the same file was already loaded as upload {earlier}; nothing was loaded twice"
            )
            _settle(conn, upload_id, status="duplicate", error=message, rows_loaded=0)
            return LoadOutcome(upload_id, row.tenant_id, "duplicate", error=message)

        try:
            with zone.open(row.object_key) as stream:
                parsed: ParsedUpload = parse_upload(
                    stream, filename=row.filename, today=today, column_mapping=row.column_mapping
                )
        except UnreadableUpload as exc:
            _settle(
                conn, upload_id, status="rejected", error=str(exc), rows_loaded=0, rows_rejected=0
            )
            return LoadOutcome(upload_id, row.tenant_id, "rejected", error=str(exc))

        written = items_written = 0
        replaced = _Replaced()
        if not parsed.daily.empty:
            _copy(conn, incoming, parsed.daily)
            written = _merge_into_staging(conn, row.tenant_id, upload_id, replaced)
        if parsed.items is not None and not parsed.items.empty:
            _copy(conn, incoming_items, _item_rows(parsed.items))
            items_written = _merge_items(conn, row.tenant_id, upload_id, replaced)
        _record_rejections(conn, row.tenant_id, upload_id, parsed.rejected)
        # Counts are of the file's lines, as the restaurant sees them; a line may fail on several columns.
        rejected_lines = (
            int(parsed.rejected["line_number"].nunique()) if not parsed.rejected.empty else 0
        )
        loaded = parsed.rows_total - rejected_lines
        dates = parsed.daily["date"] if not parsed.daily.empty else pd.Series([], dtype=object)
        corrected = tuple(sorted(replaced.uploads))
        _settle(
            conn,
            upload_id,
            status="loaded",
            format=parsed.format,
            rows_total=parsed.rows_total,
            rows_loaded=loaded,
            rows_rejected=rejected_lines,
            date_min=dates.min() if len(dates) else None,
            date_max=dates.max() if len(dates) else None,
            days_replaced=len(replaced.days),
            replaced_uploads=list(corrected),
            warnings=list(parsed.warnings),
            error=None,
        )
        return LoadOutcome(
            upload_id,
            row.tenant_id,
            "loaded",
            parsed.format,
            parsed.rows_total,
            loaded,
            rejected_lines,
            len(replaced.days),
            days_written=written,
            replaced_uploads=corrected,
            items_written=items_written,
            warnings=tuple(parsed.warnings),
        )
