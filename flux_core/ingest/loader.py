"""Loading uploads into ``flux.staged_sales`` (``staged_item_sales``, ``staged_bookings``), exactly
once.

Everything about an upload happens in ONE transaction: the upload row is locked, the file parsed,
valid rows COPY'd into temporary tables and merged into staging (a later upload of the same days
replaces them: a correction, recorded on the upload with the uploads it replaced), rejected rows
recorded, and the status set. A crash or a dropped connection at any point rolls all of it back, so
running the load again converges to exactly the rows of one clean load; an upload that is already
settled is left alone.

``load_uploads`` does the same for many uploads at once, as the ``staged_sales`` asset does for a
run of tenants: small uploads go in batches, one transaction per batch (one COPY and one merge for
all their daily rows, whose pandera check also runs once per batch), a few batches at a time.
Each upload still gets exactly its own outcome; a batch that fails for any reason is loaded again
upload by upload, so one bad upload cannot change what happens to the others.

An upload is judged on its own. Whatever in a file makes it unreadable (or unstorable: a value the
database refuses) rejects it, at once and for good. A failure from outside the file (the database or
the landing zone gone) counts an attempt on the upload; the upload stays pending for the retry, and
once ``MAX_LOAD_ATTEMPTS`` are spent it is ``failed``. Neither holds the tenant's later uploads
back: the order rule that matters, the later upload of a day wins, is kept by the merge itself
(``staging``), whatever order the uploads load in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import typing
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from uuid import UUID

import pyarrow.compute as pc
import sqlalchemy as sa

from flux_core.db.tables import rejected_rows, uploads
from flux_core.ingest.staging import (
    Staged,
    StagingRulesBroken,
    Tables,
    merge_daily,
    merge_items,
    rejection_rows,
    settle,
    stage_bookings,
)
from flux_core.landing import LandingZone
from flux_core.parsing.errors import UnreadableUpload
from flux_core.parsing.result import ParsedUpload
from flux_core.parsing.upload import parse_upload

__all__ = [
    "SETTLED",
    "LoadOutcome",
    "StagingRulesBroken",
    "load_upload",
    "load_uploads",
    "pending_uploads",
    "pending_uploads_of",
]

SETTLED = ("loaded", "rejected", "duplicate", "failed")
# Tries of an upload that fail for a reason outside the file, before it is given up as failed.
MAX_LOAD_ATTEMPTS = 3
# A batch is one transaction: large enough that its fixed costs vanish, small enough that a retry
# upload by upload (after a failure) stays short.
BATCH_UPLOADS = 100
# Larger uploads (line-item exports, years of days) load on their own, streamed.
BATCH_MAX_BYTES = 1024 * 1024
# Batches in flight at once, each on its own connection: the PostgreSQL backends' per-row work
# (foreign keys, index) is most of a small upload's cost. One more than the two cores keeps both
# busy while a batch is being parsed (measured: 3 is ~5% faster than 2 on 2 cores, 1 ~20% slower).
LOAD_CONNECTIONS = 3
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class LoadOutcome:
    """What a load did to one upload: ``status`` is the upload's status after it. ``retry``
    (``load_uploads`` only): the load failed for a reason outside the file, nothing of it was
    kept, and the upload is still pending for another try; ``failed``: that happened for the last
    time. ``attempts``: the tries that failed so."""

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
    attempts: int = 0


def pending_uploads(conn: sa.Connection, tenant_id: UUID) -> list[UUID]:
    """Uploads of a tenant not settled yet, oldest first, so the newest correction wins."""
    return pending_uploads_of(conn, [tenant_id])


def pending_uploads_of(conn: sa.Connection, tenant_ids: Sequence[UUID]) -> list[UUID]:
    """Uploads of these tenants not settled yet, oldest first (per tenant: the loading order)."""
    return list(
        conn.execute(
            sa.select(uploads.c.upload_id)
            .where(uploads.c.tenant_id.in_(list(tenant_ids)), uploads.c.status.not_in(SETTLED))
            .order_by(uploads.c.received_at, uploads.c.upload_id)
        ).scalars()
    )


# --- loading ---------------------------------------------------------------------------------


def _fingerprinted(conn: sa.Connection, zone: LandingZone, row: typing.Any) -> typing.Any:
    """A file dropped straight into the landing zone was registered without its hash and size
    (the sensor only lists keys): they are taken now, before the duplicate check needs them."""
    digest, size = hashlib.sha256(), 0
    with zone.open(row.object_key) as stream:
        while block := stream.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    conn.execute(
        sa.update(uploads)
        .where(uploads.c.upload_id == row.upload_id)
        .values(content_sha256=digest.hexdigest(), size_bytes=size)
    )
    return SimpleNamespace(
        **{**row._mapping, "content_sha256": digest.hexdigest(), "size_bytes": size}
    )


def _parse(zone: LandingZone, row: typing.Any, today: dt.date) -> ParsedUpload:
    with zone.open(row.object_key) as stream:
        return parse_upload(
            stream, filename=row.filename, today=today, column_mapping=row.column_mapping
        )


def _load_round(
    conn: sa.Connection, tables: Tables, zone: LandingZone, rows: list[typing.Any], today: dt.date
) -> list[LoadOutcome]:
    """Loads locked, unsettled uploads of distinct tenants; returns their outcomes in order."""
    hashes = [r.content_sha256 for r in rows if r.content_sha256 is not None]
    earlier: dict[tuple[UUID, str], UUID] = {}
    if hashes:
        found = conn.execute(
            sa.select(uploads.c.tenant_id, uploads.c.content_sha256, uploads.c.upload_id).where(
                uploads.c.tenant_id.in_([r.tenant_id for r in rows]),
                uploads.c.content_sha256.in_(hashes),
                uploads.c.status == "loaded",
                uploads.c.upload_id.not_in([r.upload_id for r in rows]),
            )
        ).all()
        earlier = {(f.tenant_id, f.content_sha256): f.upload_id for f in found}

    outcomes: dict[UUID, LoadOutcome] = {}
    settled: dict[str, list[dict[str, object]]] = defaultdict(list)
    staged: list[Staged] = []
    for row in rows:
        before = earlier.get((row.tenant_id, row.content_sha256))
        if before is not None:
            message = (
                f"the same file was already loaded as upload {before}; nothing was loaded twice"
            )
            settled["duplicate"].append(
                {
                    "upload_id": row.upload_id,
                    "status": "duplicate",
                    "error": message,
                    "rows_loaded": 0,
                }
            )
            outcomes[row.upload_id] = LoadOutcome(
                row.upload_id, row.tenant_id, "duplicate", error=message
            )
            continue
        try:
            parsed = _parse(zone, row, today)
        except UnreadableUpload as exc:
            settled["rejected"].append(
                {"upload_id": row.upload_id, "status": "rejected", "error": str(exc)}
                | {"rows_loaded": 0, "rows_rejected": 0}  # nothing of it is loaded
            )
            outcomes[row.upload_id] = LoadOutcome(
                row.upload_id, row.tenant_id, "rejected", error=str(exc)
            )
            continue
        staged.append(Staged(row, parsed))

    merge_daily(conn, tables, staged, today)
    for entry in staged:
        items = entry.parsed.item_rows
        if items is not None and items.num_rows:
            entry.items_written, replaced, kept = merge_items(
                conn, tables, entry.row.tenant_id, entry.row.upload_id, items
            )
            entry.replaced.add(replaced)
            entry.kept.add(kept)
        if entry.parsed.booking_rows is not None:
            stage_bookings(conn, tables, entry)
    rejected = [r for entry in staged for r in rejection_rows(entry)]
    if rejected:
        conn.execute(sa.insert(rejected_rows), rejected)

    for entry in staged:
        row, parsed = entry.row, entry.parsed
        # Counts are of the file's lines, as the restaurant sees them; a line may fail on several columns.
        rejected_lines = (
            int(parsed.rejected["line_number"].nunique()) if not parsed.rejected.empty else 0
        )
        loaded = parsed.rows_total - rejected_lines
        first, last = pc.min_max(parsed.daily_rows["date"]).values()
        if parsed.booking_rows is not None:
            loaded = parsed.booking_rows.num_rows  # cancelled bookings are neither
            first, last = pc.min_max(parsed.booking_rows["visit_date"]).values()
        corrected = tuple(sorted(entry.replaced.uploads))
        warnings = list(parsed.warnings)
        if entry.kept.days:
            warnings.append(
                f"{len(entry.kept.days)} day(s) of this file were not loaded: a later upload "
                f"({', '.join(map(str, sorted(entry.kept.uploads)))}) already covers them, "
                "and the later upload of a day wins"
            )
        settled["loaded"].append(
            {
                "upload_id": row.upload_id,
                "status": "loaded",
                "format": parsed.format,
                "rows_total": parsed.rows_total,
                "rows_loaded": loaded,
                "rows_rejected": rejected_lines,
                "date_min": first.as_py(),
                "date_max": last.as_py(),
                "days_replaced": len(entry.replaced.days),
                "replaced_uploads": list(corrected),
                "warnings": warnings,
                "error": None,
            }
        )
        outcomes[row.upload_id] = LoadOutcome(
            row.upload_id,
            row.tenant_id,
            "loaded",
            parsed.format,
            parsed.rows_total,
            loaded,
            rejected_lines,
            len(entry.replaced.days),
            days_written=entry.written,
            replaced_uploads=corrected,
            items_written=entry.items_written,
            warnings=tuple(warnings),
        )
    for status, values in settled.items():
        settle(conn, status, values)
    return [outcomes[r.upload_id] for r in rows]


def _load_locked(
    engine: sa.Engine, zone: LandingZone, upload_ids: list[UUID], today: dt.date
) -> list[LoadOutcome]:
    """One transaction: locks the uploads, loads the unsettled ones in rounds (the first pending
    upload of each tenant, then the second...), so a tenant's uploads load in the order given."""
    upload_ids = list(dict.fromkeys(upload_ids))
    with engine.begin() as conn:
        # A batch's statements cost enough on paper for PostgreSQL to compile them (JIT, ~10 ms
        # each); they run once, in far less than the compilation takes.
        conn.execute(sa.select(sa.func.set_config("jit", "off", True)))
        # The row locks make a second, concurrent load of the same uploads wait, then see them
        # settled; taken in one order, so two batches never wait on each other in a cycle.
        locked = conn.execute(
            sa.select(uploads)
            .where(uploads.c.upload_id.in_(upload_ids))
            .order_by(uploads.c.upload_id)
            .with_for_update()
        ).all()
        by_id: dict[UUID, typing.Any] = {row.upload_id: row for row in locked}
        for row in locked:
            if row.content_sha256 is None and row.status not in SETTLED:
                by_id[row.upload_id] = _fingerprinted(conn, zone, row)
        missing = [str(u) for u in upload_ids if u not in by_id]
        if missing:
            raise LookupError(f"no such upload(s): {', '.join(missing)}")
        outcomes: dict[UUID, LoadOutcome] = {}
        rounds: dict[int, list[typing.Any]] = defaultdict(list)
        seen: Counter[UUID] = Counter()
        for upload_id in upload_ids:
            row = by_id[upload_id]
            if row.status in SETTLED:
                outcomes[upload_id] = LoadOutcome(
                    upload_id, row.tenant_id, row.status, row.format, skipped=True
                )
            else:
                rounds[seen[row.tenant_id]].append(row)
                seen[row.tenant_id] += 1
        tables = Tables(conn)
        for number in sorted(rounds):
            for outcome in _load_round(conn, tables, zone, rounds[number], today):
                outcomes[outcome.upload_id] = outcome
        return [outcomes[u] for u in upload_ids]


def load_upload(
    engine: sa.Engine, zone: LandingZone, upload_id: UUID, today: dt.date | None = None
) -> LoadOutcome:
    """Loads one upload in its own transaction (raises if the load fails: nothing is kept)."""
    return _load_locked(engine, zone, [upload_id], today or dt.date.today())[0]


_NO_TENANT = UUID(int=0)  # the tenant of an upload id that does not exist
# SQLSTATE class 22, "data exception": a value of the file that the database cannot store.
_DATA_EXCEPTION = "22"


def _driver_error(error: BaseException) -> BaseException:
    """psycopg's own error: raised as is by COPY on the raw connection, wrapped by SQLAlchemy
    everywhere else."""
    return error.orig if isinstance(error, sa.exc.DBAPIError) and error.orig else error


def caused_by_file(error: BaseException) -> bool:
    """Whether a load failed because of what the file holds, so that trying again cannot help."""
    sqlstate = getattr(_driver_error(error), "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_DATA_EXCEPTION)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())[:500]}"


def _refuse_unstorable(
    engine: sa.Engine, upload_id: UUID, tenant: UUID, error: BaseException
) -> LoadOutcome:
    """The database refused a value of the file: the upload is rejected, in a transaction of its
    own (the load's was rolled back), and never tried again."""
    detail = getattr(_driver_error(error), "diag", None)
    what = getattr(detail, "message_primary", None) or str(error).splitlines()[0]
    message = (
        "The file holds a value that cannot be stored (" + what + "); nothing of it was loaded. "
        "Check the file for a broken cell and upload it again."
    )
    with engine.begin() as conn:
        settle(
            conn,
            "rejected",
            [
                {"upload_id": upload_id, "status": "rejected", "error": message}
                | {"rows_loaded": 0, "rows_rejected": 0}
            ],
        )
    return LoadOutcome(upload_id, tenant, "rejected", error=message)


def _count_attempt(
    engine: sa.Engine, upload_id: UUID, tenant: UUID, error: BaseException
) -> LoadOutcome:
    """A try that failed for a reason outside the file: counted on the upload, which stays pending
    until ``MAX_LOAD_ATTEMPTS`` are spent and is ``failed`` then. Where even that cannot be written
    (the database is the fault), the upload stays as it was and the outcome says so."""
    reason = _reason(error)
    try:
        with engine.begin() as conn:
            attempts = conn.execute(
                sa.update(uploads)
                .where(uploads.c.upload_id == upload_id, uploads.c.status.not_in(SETTLED))
                .values(
                    attempts=uploads.c.attempts + 1,
                    error=reason,
                    status=sa.case(
                        (uploads.c.attempts + 1 >= MAX_LOAD_ATTEMPTS, "failed"),
                        else_=uploads.c.status,
                    ),
                    processed_at=sa.case(
                        (uploads.c.attempts + 1 >= MAX_LOAD_ATTEMPTS, sa.func.now()),
                        else_=uploads.c.processed_at,
                    ),
                )
                .returning(uploads.c.attempts)
            ).scalar()
    except Exception:  # noqa: BLE001 - the database is down too: the next run counts again
        return LoadOutcome(upload_id, tenant, "retry", error=reason)
    if attempts is None:  # settled meanwhile by another load
        return LoadOutcome(upload_id, tenant, "retry", error=reason)
    status = "failed" if attempts >= MAX_LOAD_ATTEMPTS else "retry"
    return LoadOutcome(upload_id, tenant, status, error=reason, attempts=attempts)


def _after_failure(
    engine: sa.Engine, upload_id: UUID, tenant: UUID, error: BaseException
) -> LoadOutcome:
    if caused_by_file(error):
        try:
            return _refuse_unstorable(engine, upload_id, tenant, error)
        except Exception as again:  # noqa: BLE001 - cannot even settle it: try again later
            return _count_attempt(engine, upload_id, tenant, again)
    return _count_attempt(engine, upload_id, tenant, error)


def _tenants_of(engine: sa.Engine, upload_ids: list[UUID]) -> dict[UUID, UUID]:
    try:
        with engine.connect() as conn:
            return dict(
                conn.execute(
                    sa.select(uploads.c.upload_id, uploads.c.tenant_id).where(
                        uploads.c.upload_id.in_(upload_ids)
                    )
                ).all()
            )
    except sa.exc.DBAPIError:
        return {}


def _one_by_one(
    engine: sa.Engine, zone: LandingZone, upload_ids: list[UUID], today: dt.date
) -> list[LoadOutcome]:
    """Each upload in its own transaction, in order; each has its own outcome, whatever became of
    the tenant's earlier ones (the merge keeps the later upload of a day, in any order)."""
    tenant_of = _tenants_of(engine, upload_ids)
    outcomes: list[LoadOutcome] = []
    for upload_id in upload_ids:
        tenant = tenant_of.get(upload_id, _NO_TENANT)
        try:
            outcomes.append(_load_locked(engine, zone, [upload_id], today)[0])
        except LookupError as missing:  # not an upload at all: nothing to count it on
            outcomes.append(LoadOutcome(upload_id, tenant, "retry", error=_reason(missing)))
        except Exception as exc:  # noqa: BLE001 - reported in the outcome
            outcomes.append(_after_failure(engine, upload_id, tenant, exc))
    return outcomes


def _load_batch(
    engine: sa.Engine, zone: LandingZone, upload_ids: list[UUID], today: dt.date
) -> list[LoadOutcome]:
    try:
        return _load_locked(engine, zone, upload_ids, today)
    except Exception as exc:  # noqa: BLE001 - rolled back; reported, or each upload on its own
        if len(upload_ids) == 1:
            tenant = _tenants_of(engine, upload_ids).get(upload_ids[0], _NO_TENANT)
            return [_after_failure(engine, upload_ids[0], tenant, exc)]
        # Each upload on its own: the one that broke the batch has its own outcome, the others load.
        return _one_by_one(engine, zone, upload_ids, today)


@dataclass(frozen=True)
class _Work:
    """Uploads to load together in one transaction (``batch``), or one by one in order."""

    upload_ids: list[UUID]
    batch: bool


def _plan(engine: sa.Engine, upload_ids: list[UUID]) -> list[_Work]:
    """Uploads grouped by tenant (in their order), tenants packed into batches; a tenant with a
    large upload loads one by one (it streams), in order. Every tenant is in one unit of work, so
    units running at once never touch the same tenant."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(uploads.c.upload_id, uploads.c.tenant_id, uploads.c.size_bytes).where(
                uploads.c.upload_id.in_(upload_ids)
            )
        ).all()
    known = {r.upload_id: r for r in rows}
    by_tenant: dict[UUID | None, list[UUID]] = defaultdict(list)
    for upload_id in dict.fromkeys(upload_ids):
        row = known.get(upload_id)
        by_tenant[row.tenant_id if row else None].append(upload_id)
    work: list[_Work] = []
    current: list[UUID] = []
    for tenant, ids in by_tenant.items():
        if tenant is None:
            work.extend(_Work([u], batch=False) for u in ids)  # unknown: each fails alone
            continue
        if not all((known[u].size_bytes or BATCH_MAX_BYTES + 1) <= BATCH_MAX_BYTES for u in ids):
            work.append(_Work(ids, batch=False))
            continue
        if current and len(current) + len(ids) > BATCH_UPLOADS:
            work.append(_Work(current, batch=True))
            current = []
        current.extend(ids)
    if current:
        work.append(_Work(current, batch=True))
    return work


def load_uploads(
    engine: sa.Engine,
    zone: LandingZone,
    upload_ids: Sequence[UUID],
    today: dt.date | None = None,
    connections: int = LOAD_CONNECTIONS,
) -> list[LoadOutcome]:
    """Loads many uploads, each with the outcome ``load_upload`` would give it; a tenant's uploads
    load in the order given (``pending_uploads_of``'s: oldest first). Never raises for one upload:
    one whose load failed for a reason outside the file has status ``retry`` (still pending, an
    attempt counted) or, its attempts spent, ``failed``; the tenant's later uploads load all the
    same."""
    day = today or dt.date.today()

    def run(work: _Work) -> list[LoadOutcome]:
        if work.batch:
            return _load_batch(engine, zone, work.upload_ids, day)
        return _one_by_one(engine, zone, work.upload_ids, day)

    with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
        done = list(pool.map(run, _plan(engine, list(upload_ids))))
    by_id = {o.upload_id: o for outcomes in done for o in outcomes}
    return [by_id[u] for u in dict.fromkeys(upload_ids) if u in by_id]
