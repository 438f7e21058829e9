"""Loading one upload into ``flux.staged_sales``, exactly once.

Everything about one upload happens in ONE transaction: the upload row is locked, the file parsed,
valid rows COPY'd into a temporary table and merged into staging (a later upload of the same days
replaces them: a correction), rejected rows recorded, and the status set. A crash or a dropped
connection at any point rolls all of it back, so running the load again converges to exactly the
rows of one clean load; an upload that is already settled is left alone.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from uuid import UUID

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_pipelines.db.tables import rejected_rows, staged_sales, uploads
from flux_pipelines.defs.ingest.parsing import ParsedUpload, UnreadableUpload, parse_upload
from flux_pipelines.landing import LandingZone

SETTLED = ("loaded", "rejected", "duplicate")

# The temporary table COPY writes into; it vanishes at commit.
incoming = sa.Table(
    "incoming_sales",
    sa.MetaData(),
    sa.Column("metric", sa.Text),
    sa.Column("date", sa.Date),
    sa.Column("value", sa.Numeric(14, 2)),
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


def pending_uploads(conn: sa.Connection, tenant_id: UUID) -> list[UUID]:
    """Uploads of a tenant not settled yet, oldest first, so the newest correction wins."""
    return list(
        conn.execute(
            sa.select(uploads.c.upload_id)
            .where(uploads.c.tenant_id == tenant_id, uploads.c.status.not_in(SETTLED))
            .order_by(uploads.c.received_at, uploads.c.upload_id)
        ).scalars()
    )


def _copy_daily(conn: sa.Connection, daily: pd.DataFrame) -> None:
    incoming.create(conn)
    buffer = io.StringIO()
    daily[["metric", "date", "value"]].to_csv(buffer, index=False, header=False)
    raw = conn.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy("COPY incoming_sales (metric, date, value) FROM STDIN (FORMAT csv)") as copy,
    ):
        copy.write(buffer.getvalue())


def _merge_into_staging(conn: sa.Connection, tenant_id: UUID, upload_id: UUID) -> tuple[int, int]:
    """Insert or replace the tenant's days; returns (rows written, rows that replaced earlier ones)."""
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
    statement: sa.Executable = insert.on_conflict_do_update(
        index_elements=["tenant_id", "metric", "date"],
        set_={
            "value": insert.excluded.value,
            "upload_id": insert.excluded.upload_id,
            "loaded_at": sa.func.now(),
        },
    ).returning(sa.literal_column("xmax <> 0").label("replaced"))
    replaced: list[bool] = list(conn.execute(statement).scalars())
    return len(replaced), sum(bool(r) for r in replaced)


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
                parsed: ParsedUpload = parse_upload(stream, filename=row.filename, today=today)
        except UnreadableUpload as exc:
            _settle(
                conn, upload_id, status="rejected", error=str(exc), rows_loaded=0, rows_rejected=0
            )
            return LoadOutcome(upload_id, row.tenant_id, "rejected", error=str(exc))

        written = replaced = 0
        if not parsed.daily.empty:
            _copy_daily(conn, parsed.daily)
            written, replaced = _merge_into_staging(conn, row.tenant_id, upload_id)
        _record_rejections(conn, row.tenant_id, upload_id, parsed.rejected)
        # Counts are of the file's lines, as the restaurant sees them; a line may fail on several columns.
        rejected_lines = (
            int(parsed.rejected["line_number"].nunique()) if not parsed.rejected.empty else 0
        )
        loaded = parsed.rows_total - rejected_lines
        dates = parsed.daily["date"] if not parsed.daily.empty else pd.Series([], dtype=object)
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
            replaced,
            days_written=written,
        )
