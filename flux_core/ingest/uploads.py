"""Receiving an upload: the one path the API and the CLI share.

The raw file goes to the landing zone first, exactly as received; then a row in ``flux.uploads``
records it with status ``received`` (and the explicit column mapping it came with, if any). A file
that lands without its row (a crash between the two, or a file dropped straight into the bucket) is
registered later by the sensor, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID, uuid4

import sqlalchemy as sa

from flux_core.db.tables import uploads
from flux_core.landing import LandingZone, upload_key
from flux_core.parsing.layouts import DAILY_MEASURES, DAILY_ROLES, LINE_ITEM_ROLES

MAPPABLE = tuple(dict.fromkeys((*DAILY_ROLES, *LINE_ITEM_ROLES)))
MAX_HEADER_LENGTH = 200


class UploadNotRegistered(RuntimeError):
    """The file is in the landing zone, but its row could not be written (the database went
    away): the landing sensor registers it later, so nothing is lost."""


class InvalidColumnMapping(ValueError):
    """The mapping cannot be used; ``str(error)`` says why, for the person who wrote it."""


@dataclass(frozen=True)
class UploadReceipt:
    upload_id: UUID
    object_key: str
    size_bytes: int
    sha256: str


def check_column_mapping(mapping: object) -> dict[str, str]:
    """A column mapping (our name -> their header) checked before a byte is stored.

    Our names are those in ``MAPPABLE``; it must say where the date is, and either a measure
    (sales, covers, orders) or, for a line-item export, the item and the order id.
    """
    if not isinstance(mapping, Mapping) or not mapping:
        raise InvalidColumnMapping(
            "the column mapping must be a JSON object of our names to your headers, e.g. "
            '{"date": "Business Day", "sales": "Net Total"}'
        )
    unknown = sorted(str(k) for k in mapping if k not in MAPPABLE)
    if unknown:
        raise InvalidColumnMapping(
            f"the column mapping names {', '.join(map(repr, unknown))}, which we do not use; "
            f"it may name: {', '.join(MAPPABLE)}"
        )
    checked: dict[str, str] = {}
    for ours, theirs in mapping.items():
        if not isinstance(theirs, str) or not theirs.strip():
            raise InvalidColumnMapping(f"the column mapping gives no header for {ours!r}")
        if len(theirs) > MAX_HEADER_LENGTH:
            raise InvalidColumnMapping(f"the header given for {ours!r} is too long")
        checked[str(ours)] = theirs.strip()
    headers = [h.lower() for h in checked.values()]
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        raise InvalidColumnMapping(
            f"the column mapping gives the header {repeated[0]!r} to more than one of our names"
        )
    if "date" not in checked:
        raise InvalidColumnMapping("the column mapping must say which column holds the date")
    if "item" in checked or "order_id" in checked:
        if not {"item", "order_id"} <= checked.keys():
            raise InvalidColumnMapping(
                "a line-item mapping must name both the item and the order_id columns"
            )
    elif not set(DAILY_MEASURES) & checked.keys():
        raise InvalidColumnMapping(
            "the column mapping must name at least one of sales, covers or orders "
            "(or item and order_id for a line-item export)"
        )
    return checked


def column_mapping_from_pairs(pairs: Iterable[str]) -> dict[str, str] | None:
    """``["date=Business Day", "sales=Net Total"]`` (the CLI's ``--map name=header``) as a
    checked mapping; ``None`` when there are no pairs."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, separator, theirs = pair.partition("=")
        if not separator:
            raise InvalidColumnMapping(f"{pair!r} is not name=header, e.g. date='Business Day'")
        if ours.strip() in mapping:
            raise InvalidColumnMapping(f"{ours.strip()!r} is mapped twice")
        mapping[ours.strip()] = theirs
    return check_column_mapping(mapping) if mapping else None


def receive_upload(
    conn: sa.Connection,
    zone: LandingZone,
    tenant_id: UUID,
    filename: str,
    stream: BinaryIO,
    max_bytes: int | None = None,
    column_mapping: Mapping[str, str] | None = None,
) -> UploadReceipt:
    """Store the file and register it. ``conn`` may be an RLS-scoped API connection: the insert's
    tenant must then match the tenant set for the transaction, or the database refuses it.

    ``column_mapping`` is checked first (``InvalidColumnMapping``), so a bad one stores nothing.
    """
    mapping = check_column_mapping(column_mapping) if column_mapping is not None else None
    upload_id = uuid4()
    stored = zone.put(upload_key(tenant_id, upload_id), stream, max_bytes=max_bytes)
    try:
        conn.execute(
            sa.insert(uploads).values(
                upload_id=upload_id,
                tenant_id=tenant_id,
                object_key=stored.key,
                filename=filename[:255],
                content_sha256=stored.sha256,
                size_bytes=stored.size_bytes,
                status="received",
                column_mapping=mapping,
            )
        )
    except sa.exc.OperationalError as error:
        raise UploadNotRegistered(f"upload {upload_id} is stored as {stored.key}") from error
    return UploadReceipt(upload_id, stored.key, stored.size_bytes, stored.sha256)
