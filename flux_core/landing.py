"""The landing zone: where uploads are kept exactly as received.

A local folder by default, S3 (AWS, MinIO, moto) when FLUX_LANDING_URL is ``s3://bucket/prefix``.
Both sides speak the same three verbs; keys are ``uploads/tenant=<tenant_id>/<upload_id>.csv``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse
from uuid import UUID

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from flux_core.settings import FluxSettings

CHUNK = 1024 * 1024
# botocore's standard retry mode: throttling (SlowDown), 5xx and dropped connections are tried
# again with backoff, up to this many attempts in all, before the zone reports itself unavailable.
S3_ATTEMPTS = 5


class UploadTooLarge(ValueError):
    pass


class LandingZoneUnavailable(RuntimeError):
    """The store of raw uploads failed (S3 down or throttling past its retries, a full disk):
    ``str()`` says so in words; nothing half-written was kept."""


def _unavailable(what: str, error: BaseException) -> LandingZoneUnavailable:
    detail = " ".join(str(error).split())[:300]
    return LandingZoneUnavailable(f"the landing zone could not {what}: {detail}")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    sha256: str


def upload_key(tenant_id: UUID, upload_id: UUID) -> str:
    return f"uploads/tenant={tenant_id}/{upload_id}.csv"


def parse_upload_key(key: str) -> tuple[UUID, UUID] | None:
    parts = key.split("/")
    if (
        len(parts) != 3
        or parts[0] != "uploads"
        or not parts[1].startswith("tenant=")
        or not parts[2].endswith(".csv")
    ):
        return None
    try:
        return UUID(parts[1].removeprefix("tenant=")), UUID(parts[2].removesuffix(".csv"))
    except ValueError:
        return None


class LandingZone(Protocol):
    def put(self, key: str, stream: BinaryIO, max_bytes: int | None = None) -> StoredObject: ...
    def open(self, key: str) -> BinaryIO: ...
    def list_keys(self, prefix: str, start_after: str | None, limit: int) -> list[str]: ...


def _spool(stream: BinaryIO, sink: BinaryIO, max_bytes: int | None) -> tuple[int, str]:
    """Copy in chunks, hashing as it goes, so the file is never held in memory whole."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise UploadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
        digest.update(chunk)
        sink.write(chunk)
    return size, digest.hexdigest()


class LocalLandingZone:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, stream: BinaryIO, max_bytes: int | None = None) -> StoredObject:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target, then renamed: a reader never sees half a file.
        try:
            with tempfile.NamedTemporaryFile(
                dir=target.parent, delete=False, prefix=".incoming-"
            ) as tmp:
                try:
                    size, sha = _spool(stream, tmp, max_bytes)  # type: ignore[arg-type]
                    tmp.flush()
                    os.fsync(tmp.fileno())
                except BaseException:
                    os.unlink(tmp.name)
                    raise
            os.replace(tmp.name, target)
        except OSError as error:  # no space left, a read-only or missing volume
            raise _unavailable("store the file", error) from error
        return StoredObject(key, size, sha)

    def open(self, key: str) -> BinaryIO:
        return (self.root / key).open("rb")

    def list_keys(self, prefix: str, start_after: str | None, limit: int) -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        keys = sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return [k for k in keys if start_after is None or k > start_after][:limit]


class S3LandingZone:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")
        retries = Config(retries={"mode": "standard", "max_attempts": S3_ATTEMPTS})
        self.client = boto3.client("s3", endpoint_url=endpoint_url, config=retries)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, stream: BinaryIO, max_bytes: int | None = None) -> StoredObject:
        # Spooled to disk past 8 MB so size and hash are known before the object is written once.
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            size, sha = _spool(stream, spool, max_bytes)  # type: ignore[arg-type]
            spool.seek(0)
            try:
                # One object write: S3 never shows a part of it (a multipart upload that fails
                # is never completed).
                self.client.upload_fileobj(
                    spool, self.bucket, self._key(key), ExtraArgs={"Metadata": {"sha256": sha}}
                )
            except (BotoCoreError, ClientError) as error:
                raise _unavailable("store the file", error) from error
        return StoredObject(key, size, sha)

    def open(self, key: str) -> BinaryIO:
        spool = tempfile.TemporaryFile()
        try:
            self.client.download_fileobj(self.bucket, self._key(key), spool)
        except (BotoCoreError, ClientError) as error:
            spool.close()
            raise _unavailable(f"read {key}", error) from error
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def list_keys(self, prefix: str, start_after: str | None, limit: int) -> list[str]:
        kwargs = {"Bucket": self.bucket, "Prefix": self._key(prefix), "MaxKeys": limit}
        if start_after:
            kwargs["StartAfter"] = self._key(start_after)
        try:
            response = self.client.list_objects_v2(**kwargs)
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("list its files", error) from error
        strip = len(self.prefix) + 1 if self.prefix else 0
        return [obj["Key"][strip:] for obj in response.get("Contents", [])]


def landing_zone(settings: FluxSettings) -> LandingZone:
    url = urlparse(settings.landing_root)
    if url.scheme == "s3":
        return S3LandingZone(url.netloc, url.path, settings.s3_endpoint_url)
    if url.scheme == "file":
        return LocalLandingZone(Path(unquote(url.path)))
    raise ValueError(f"FLUX_LANDING_URL must be file:// or s3://, not {settings.landing_root!r}")
