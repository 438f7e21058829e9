"""Uploads: receive a sales file into the landing zone, and report what became of it.

``POST /v1/uploads`` streams: a declared ``Content-Length`` over the limit is refused before a byte
of the body is read, a body without one is cut off as soon as it passes the limit, and the file part
is spooled to disk (never held whole in memory) before it is copied into the landing zone. No
database connection is held while the body arrives.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any, BinaryIO
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
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
    UploadDetail,
    UploadSummary,
    problem_responses,
)
from flux_api.security import TokenClaims
from flux_api.sniffing import SNIFF_BYTES, refusal
from flux_pipelines.db.tables import rejected_rows, uploads
from flux_pipelines.defs.ingest.uploads import receive_upload
from flux_pipelines.landing import LandingZone, UploadTooLarge

router = APIRouter(prefix="/v1/uploads", tags=["uploads"], responses=problem_responses(401, 403))

REJECTED_ROWS_SHOWN = 100
FILE_FIELD = "file"
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
                        }
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
) -> UUID:
    with tenant_transaction(engine, user) as conn:
        return receive_upload(
            conn, zone, user.tenant_id, filename, stream, max_bytes=max_bytes
        ).upload_id


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadAccepted,
    responses=problem_responses(400, 413, 415, 422),
    openapi_extra=_MULTIPART_BODY,
)
async def create_upload(
    request: Request,
    user: Annotated[TokenClaims, Allowed("uploads:write")],
    engine: ApiEngine,
    zone: LandingZoneDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Send one sales file as ``multipart/form-data`` in the field ``file``."""
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
                _store, engine, user, zone, file.filename or "upload.csv", file.file, limit
            )
        except UploadTooLarge as error:
            raise _too_large(limit) from error
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


@router.get("/{upload_id}", response_model=UploadDetail, responses=problem_responses(404, 422))
def get_upload(
    upload_id: UUID,
    user: Annotated[TokenClaims, Allowed("uploads:read")],
    conn: TenantConnection,
) -> UploadDetail:
    # Another tenant's upload is invisible under RLS: it is "not found", never "forbidden".
    row = (
        conn.execute(sa.select(*_summary_columns).where(uploads.c.upload_id == upload_id))
        .mappings()
        .first()
    )
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such upload")
    rejected = conn.execute(
        sa.select(
            rejected_rows.c.line_number,
            rejected_rows.c.column_name,
            rejected_rows.c.value,
            rejected_rows.c.reason,
        )
        .where(rejected_rows.c.upload_id == upload_id)
        .order_by(rejected_rows.c.line_number.asc().nulls_first(), rejected_rows.c.rejected_id)
        .limit(REJECTED_ROWS_SHOWN)
    )
    return UploadDetail(
        **row,
        rejected_rows=[
            RejectedRow(
                line_number=r.line_number, column=r.column_name, value=r.value, reason=r.reason
            )
            for r in rejected
        ],
    )
