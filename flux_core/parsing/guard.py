"""Telling a file's faults from the machine's: what parsing raises, sorted for the loader.

Parsing is pure, so anything it raises while reading a file's bytes is the file's doing and
becomes an ``UnreadableUpload`` the owner can read (a bug of ours shows up the same way, with the
exception kept as its cause for the engineer's log). Only a failure to *get* the bytes is not the
file's: the stream is wrapped so that such a failure arrives as ``SourceUnavailable``, which the
loader retries.
"""

from __future__ import annotations

import csv
import io
import typing
import zlib

from flux_core.parsing.errors import UnreadableUpload

DETAIL_CHARS = 160


class SourceUnavailable(Exception):  # noqa: N818 - a condition, like UnreadableUpload
    """Reading the upload's stored bytes failed (landing zone, disk, network): try again later.

    Deliberately not an ``OSError``: the gzip reader turns those into "damaged file"."""


class GuardedReads(io.RawIOBase):
    """The stored file's bytes; a failure to read them is raised as ``SourceUnavailable``."""

    def __init__(self, inner: typing.BinaryIO) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: typing.Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except Exception as exc:  # noqa: BLE001 - whatever the store raised, it is not the file
            raise SourceUnavailable(
                f"reading the stored file failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


def _detail(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def refusal_for(error: Exception) -> UnreadableUpload:
    """An owner's reason for an unexpected failure while parsing a file."""
    if isinstance(error, csv.Error) and "field larger than field limit" in str(error):
        return UnreadableUpload(
            f"A field of the file is longer than {csv.field_size_limit() // 1024} KB, which no "
            "sales export writes: the export is probably broken (an opening quote that is never "
            "closed, for instance). Export the file again and upload that."
        )
    if isinstance(error, UnicodeError):
        return UnreadableUpload(
            "The file's text could not be decoded. Save it as CSV in UTF-8 (or UTF-16) and upload "
            f"that. Details: {_detail(error)}"
        )
    if isinstance(error, zlib.error | EOFError):
        return UnreadableUpload(
            "The compressed (.gz) file is damaged or incomplete and cannot be opened."
        )
    refusal = UnreadableUpload(
        "Flux could not read this file as a sales export: its content is not laid out as one "
        "(for instance, it changes format partway through). Export it again as CSV and upload "
        f"that. Details: {type(error).__name__}: {_detail(error)}"
    )
    # No parser foresaw this file: the fuzzer and the catalog count it as a crash to fix.
    refusal.unforeseen = True  # type: ignore[attr-defined]
    return refusal
