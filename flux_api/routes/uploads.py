"""Uploads: receive a sales file into the landing zone, and report what became of it.

``POST /v1/uploads`` streams: a declared ``Content-Length`` over the limit is refused before a byte
of the body is read, a body without one is cut off as soon as it passes the limit, and the file part
is spooled to disk (never held whole in memory) before it is copied into the landing zone. No
database connection is held while the body arrives. An optional form field ``column_mapping``
(a JSON object, our name -> the file's header) is checked before the file is stored.

``GET /v1/uploads/{id}/rejections.csv`` streams the whole rejection report (line, column, value,
reason) from a server-side cursor, its values neutralised for spreadsheets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Annotated, Any, BinaryIO
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from flux_api.deps import (
    Allowed,
    ApiEngine,
    LandingZoneDep,
    SettingsDep,
    TenantConnection,
    tenant_transaction,
)
from flux_api.filters import PageDep, paged
from flux_api.schemas import (
    Page,
    RejectedRow,
    UploadAccepted,
    UploadReport,
    UploadSummary,
    problem_responses,
)
from flux_api.security import TokenClaims
from flux_api.sniffing import SNIFF_BYTES, refusal
from flux_core.db.tables import rejected_rows, uploads
from flux_core.ingest.uploads import (
    MAPPABLE,
    InvalidColumnMapping,
    UploadNotRegistered,
    check_column_mapping,
    receive_upload,
)
from flux_core.landing import LandingZone, UploadTooLarge
from flux_core.parsing.spreadsheet import spreadsheet_safe

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], responses=problem_responses(401, 403))

REJECTED_ROWS_SHOWN = 100
FILE_FIELD = "file"
MAPPING_FIELD = "column_mapping"
REPORT_BATCH = 5_000
REPORT_HEADER = ("line", "column", "value", "reason")
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024

_summary_columns = [
    uploads.c.upload_id,
    uploads.c.filename,
    uploads.c.status,
    uploads.c.format,
    uploads.c.size_bytes,
    uploads.c.rows_total,
    uploads.c.rows_loaded,
    uploads.c.rows_rejected,
    uploads.c.date_min,
    uploads.c.date_max,
    uploads.c.error,
    uploads.c.attempts,
    uploads.c.received_at,
    uploads.c.processed_at,
]

_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "a CSV file, optionally gzip-compressed",
                        },
                        MAPPING_FIELD: {
                            "type": "string",
                            "description": (
                                "optional: a JSON object naming which of the file's headers holds "
                                "each of our columns, e.g. "
                                '{"date": "Business Day", "sales": "Net Total"}; '
                                f"our names: {', '.join(MAPPABLE)}"
                            ),
                        },
                    },
                }
            }
        },
    }
}


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"the file is larger than the limit of {limit} bytes"
    )


async def _capped(
    stream: AsyncIterator[bytes], cap: int, limit: int
) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > cap:
            raise _too_large(limit)
        yield chunk


def _ensure_active(engine: sa.Engine, user: TokenClaims) -> None:
    with tenant_transaction(engine, user):
        pass


def _store(
    engine: sa.Engine,
    user: TokenClaims,
    zone: LandingZone,
    filename: str,
    stream: BinaryIO,
    max_bytes: int,
    column_mapping: dict[str, str] | None,
) -> UUID:
    with tenant_transaction(engine, user) as conn:
        return receive_upload(
            conn,
            zone,
            user.tenant_id,
            filename,
            stream,
            max_bytes=max_bytes,
            column_mapping=column_mapping,
        ).upload_id


def _column_mapping(value: object) -> dict[str, str] | None:
    """The form field as a checked mapping; 422 with the reason when it cannot be used."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{MAPPING_FIELD!r} must be a text field"
        )
    try:
        return check_column_mapping(json.loads(value))
    except json.JSONDecodeError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{MAPPING_FIELD!r} is not valid JSON ({error.msg} at character {error.pos})",
        ) from error
    except InvalidColumnMapping as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadAccepted,
    responses=problem_responses(400, 413, 415, 422, 503),
    openapi_extra=_MULTIPART_BODY,
)
async def create_upload(
    request: Request,
    user: Annotated[TokenClaims, Allowed("uploads:write")],
    engine: ApiEngine,
    zone: LandingZoneDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Send one sales file as ``multipart/form-data`` in the field ``file`` (and optionally an
    explicit ``column_mapping``, when the file's headers are not recognised)."""
    limit = settings.upload_max_bytes
    cap = limit + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > cap):
        raise _too_large(limit) if declared.isdigit() else HTTPException(400, "bad Content-Length")
    media_type = request.headers.get("content-type", "")
    if not media_type.lower().startswith("multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the file as multipart/form-data in the field {FILE_FIELD!r}",
        )
    # A disabled user learns it before sending a large body, not after.
    await run_in_threadpool(_ensure_active, engine, user)
    parser = MultiPartParser(
        request.headers, _capped(request.stream(), cap, limit), max_files=1, max_fields=10
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, error.message) from error
    try:
        mapping = _column_mapping(form.get(MAPPING_FIELD))
        file = form.get(FILE_FIELD)
        if not isinstance(file, UploadFile):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"no file in the field {FILE_FIELD!r}"
            )
        head = await file.read(SNIFF_BYTES)
        await file.seek(0)
        reason = refusal(head)
        if reason is not None:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, reason)
        try:
            upload_id = await run_in_threadpool(
                _store,
                engine,
                user,
                zone,
                file.filename or "upload.csv",
                file.file,
                limit,
                mapping,
            )
        except UploadTooLarge as error:
            raise _too_large(limit) from error
        except UploadNotRegistered as error:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the file was kept, but the database is not reachable to record it; it will be "
                "processed once the database is back. Sending it again is safe: the same file is "
                "recognised and never loaded twice",
                headers={"Retry-After": "30"},
            ) from error
    finally:
        await form.close()
    accepted = UploadAccepted(upload_id=upload_id)
    return JSONResponse(
        accepted.model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"{router.prefix}/{upload_id}"},
    )


@router.get("", response_model=Page[UploadSummary], responses=problem_responses(422))
def list_uploads(
    user: Annotated[TokenClaims, Allowed("uploads:read")],
    conn: TenantConnection,
    page: PageDep,
) -> Page[UploadSummary]:
    query = sa.select(*_summary_columns).order_by(uploads.c.received_at.desc(), uploads.c.upload_id)
    rows, total = paged(conn, query, page)
    return Page[UploadSummary](
        items=[UploadSummary.model_validate(dict(row)) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def _rejected_rows(upload_id: UUID) -> sa.Select[tuple[int | None, str | None, str | None, str]]:
    """An upload's rejected lines in file order (those without a line number first)."""
    return (
        sa.select(
            rejected_rows.c.line_number,
            rejected_rows.c.column_name,
            rejected_rows.c.value,
            rejected_rows.c.reason,
        )
        .where(rejected_rows.c.upload_id == upload_id)
        .order_by(rejected_rows.c.line_number.asc().nulls_first(), rejected_rows.c.rejected_id)
    )


@router.get("/{upload_id}", response_model=UploadReport, responses=problem_responses(404, 422))
def get_upload(
    upload_id: UUID,
    user: Annotated[TokenClaims, Allowed("uploads:read")],
    conn: TenantConnection,
) -> UploadReport:
    # Another tenant's upload is invisible under RLS: it is "not found", never "forbidden".
    row = (
        conn.execute(
            sa.select(
                *_summary_columns,
                uploads.c.days_replaced,
                uploads.c.replaced_uploads,
                uploads.c.column_mapping,
                uploads.c.warnings,
            ).where(uploads.c.upload_id == upload_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such upload")
    rejected = conn.execute(_rejected_rows(upload_id).limit(REJECTED_ROWS_SHOWN))
    return UploadReport(
        **row,
        rejected_rows=[
            RejectedRow(
                line_number=r.line_number, column=r.column_name, value=r.value, reason=r.reason
            )
            for r in rejected
        ],
    )


def _report_lines(engine: sa.Engine, user: TokenClaims, upload_id: UUID) -> Iterator[str]:
    """The report as CSV text, a batch of rows at a time, read through a server-side cursor in a
    tenant transaction of its own (the request's has ended by the time the body is sent)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(REPORT_HEADER)
    query = _rejected_rows(upload_id)
    with tenant_transaction(engine, user) as conn:
        result = conn.execution_options(yield_per=REPORT_BATCH).execute(query)
        for batch in result.partitions():
            for row in batch:
                writer.writerow(
                    (
                        "" if row.line_number is None else row.line_number,
                        spreadsheet_safe(row.column_name or ""),
                        spreadsheet_safe(row.value or ""),
                        spreadsheet_safe(row.reason),
                    )
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


@router.get(
    "/{upload_id}/rejections.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "every rejected row: line, column, value, reason",
        },
        **problem_responses(404, 422),
    },
)
def download_rejections(
    upload_id: UUID,
    user: Annotated[TokenClaims, Allowed("uploads:read")],
    engine: ApiEngine,
) -> StreamingResponse:
    """The full rejection report as CSV, safe to open in a spreadsheet (cells that would start a
    formula are prefixed with ``'``)."""
    with tenant_transaction(engine, user) as conn:
        # RLS hides another tenant's upload: 404, as for the detail.
        found = conn.execute(
            sa.select(uploads.c.upload_id).where(uploads.c.upload_id == upload_id)
        ).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such upload")
    return StreamingResponse(
        _report_lines(engine, user, upload_id),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="rejections-{upload_id}.csv"',
        },
    )
