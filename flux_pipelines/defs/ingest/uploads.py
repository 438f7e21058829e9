"""Receiving an upload: the one path the API and the CLI share.

The raw file goes to the landing zone first, exactly as received; then a row in ``flux.uploads``
records it with status ``received``. A file that lands without its row (a crash between the two, or
a file dropped straight into the bucket) is registered later by the sensor, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID, uuid4

import sqlalchemy as sa

from flux_pipelines.db.tables import uploads
from flux_pipelines.landing import LandingZone, upload_key


@dataclass(frozen=True)
class UploadReceipt:
    upload_id: UUID
    object_key: str
    size_bytes: int
    sha256: str


def receive_upload(
    conn: sa.Connection,
    zone: LandingZone,
    tenant_id: UUID,
    filename: str,
    stream: BinaryIO,
    max_bytes: int | None = None,
) -> UploadReceipt:
    """Store the file and register it. ``conn`` may be an RLS-scoped API connection: the insert's
    tenant must then match the tenant set for the transaction, or the database refuses it."""
    upload_id = uuid4()
    stored = zone.put(upload_key(tenant_id, upload_id), stream, max_bytes=max_bytes)
    conn.execute(
        sa.insert(uploads).values(
            upload_id=upload_id,
            tenant_id=tenant_id,
            object_key=stored.key,
            filename=filename[:255],
            content_sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            status="received",
        )
    )
    return UploadReceipt(upload_id, stored.key, stored.size_bytes, stored.sha256)
