"""Uploads: receive a sales file into the landing zone, and report what became of it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Response, UploadFile, status

from flux_api.deps import (
    CurrentTenant,
    CurrentUser,
    LandingZoneDep,
    SettingsDep,
    TenantConnection,
    UploaderUser,
)
from flux_api.schemas import RejectedRow, UploadAccepted, UploadDetail, UploadPage, UploadSummary
from flux_pipelines.db.tables import rejected_rows, uploads
from flux_pipelines.defs.ingest.uploads import receive_upload
from flux_pipelines.landing import UploadTooLarge

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

REJECTED_ROWS_SHOWN = 100

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


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UploadAccepted)
def create_upload(
    file: UploadFile,
    user: UploaderUser,
    tenant_id: CurrentTenant,
    conn: TenantConnection,
    zone: LandingZoneDep,
    settings: SettingsDep,
    response: Response,
) -> UploadAccepted:
    try:
        receipt = receive_upload(
            conn,
            zone,
            tenant_id,
            file.filename or "upload.csv",
            file.file,
            max_bytes=settings.upload_max_bytes,
        )
    except UploadTooLarge as error:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from error
    response.headers["Location"] = f"{router.prefix}/{receipt.upload_id}"
    return UploadAccepted(upload_id=receipt.upload_id)


@router.get("", response_model=UploadPage)
def list_uploads(
    user: CurrentUser,
    conn: TenantConnection,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UploadPage:
    total = conn.execute(sa.select(sa.func.count()).select_from(uploads)).scalar_one()
    rows = conn.execute(
        sa.select(*_summary_columns)
        .order_by(uploads.c.received_at.desc(), uploads.c.upload_id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return UploadPage(
        items=[UploadSummary.model_validate(dict(row)) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{upload_id}", response_model=UploadDetail)
def get_upload(upload_id: UUID, user: CurrentUser, conn: TenantConnection) -> UploadDetail:
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
