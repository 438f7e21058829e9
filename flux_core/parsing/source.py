"""From uploaded bytes to a text stream: gzip (with a cap against bombs), encoding, delimiter.

Only the first ``SNIFF_BYTES`` are looked at to decide; the rest is streamed, never held whole.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import typing
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import charset_normalizer

from flux_core.filetypes import GZIP_MAGIC, binary_format, utf16_encoding
from flux_core.parsing.errors import UnreadableUpload

SNIFF_BYTES = 64 * 1024
# Sales CSVs compress about 6x, a bomb 1000x. Small files get room before the ratio applies.
MAX_COMPRESSION_RATIO = 50
RATIO_GRACE_BYTES = 16 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 2 * 1024 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_LINES = 10

_SAVE_AS_CSV = (
    "Please export or save it as CSV (comma- or semicolon-separated text) and upload that."
)


class _Prefixed(io.RawIOBase):
    """Bytes already read for sniffing, then the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest: typing.BinaryIO | io.RawIOBase) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: typing.Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        if isinstance(self._rest, io.BufferedIOBase | io.RawIOBase):
            # Straight into the caller's buffer: one copy less of every block.
            return self._rest.readinto(buffer) or 0
        data = self._rest.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


class _Counting(io.RawIOBase):
    def __init__(self, inner: typing.BinaryIO) -> None:
        self._inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: typing.Any) -> int:
        data = self._inner.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class _BoundedGunzip(io.RawIOBase):
    """Decompresses, refusing the file once its output outgrows what a sales export can be."""

    def __init__(self, compressed: typing.BinaryIO) -> None:
        self._counter = _Counting(compressed)
        self._gzip = gzip.GzipFile(fileobj=io.BufferedReader(self._counter), mode="rb")
        self._produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: typing.Any) -> int:
        try:
            data = self._gzip.read(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            raise UnreadableUpload(
                "The compressed (.gz) file is damaged or incomplete and cannot be opened."
            ) from exc
        self._produced += len(data)
        allowed = max(RATIO_GRACE_BYTES, MAX_COMPRESSION_RATIO * self._counter.count)
        if self._produced > min(allowed, MAX_DECOMPRESSED_BYTES):
            raise UnreadableUpload(
                "The compressed (.gz) file expands to far more data than a sales export holds "
                f"(over {self._produced // (1024 * 1024)} MB so far), so it was not opened."
            )
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class Candidate:
    """A line that may be the header, split with one delimiter."""

    line_number: int  # 1-based physical line
    delimiter: str
    cells: list[str]


@dataclass(frozen=True)
class TextSource:
    encoding: str
    compressed: bool
    candidates: Candidates
    open_text: Callable[[], typing.TextIO]
    # The same text as UTF-8 bytes (no byte-order mark), for readers that parse bytes (Arrow):
    # a UTF-8 file is passed through undecoded. None: encode what ``open_text`` gives.
    open_utf8: Callable[[], typing.BinaryIO] | None = None

    def utf8(self) -> typing.BinaryIO:
        if self.open_utf8 is not None:
            return self.open_utf8()
        return typing.cast(typing.BinaryIO, io.BufferedReader(_Utf8Encoded(self.open_text())))


class _Utf8Encoded(io.RawIOBase):
    """A text stream's characters as UTF-8 bytes."""

    def __init__(self, text: typing.TextIO) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: typing.Any) -> int:
        while not self._pending:
            chunk = self._text.read(max(1, len(buffer) // 4))
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8", "replace")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _read_head(stream: typing.BinaryIO | io.RawIOBase, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    utf16 = utf16_encoding(head)
    if utf16 is not None:
        return utf16
    if b"\x00" in head[:4096]:
        raise UnreadableUpload(f"This file is not text (it holds binary data). {_SAVE_AS_CSV}")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return _legacy_encoding(head)
    return "utf-8"


# What charset-normalizer may overrule cp1252 with: multi-byte code pages, whose byte pairs are
# strong evidence. On a few western lines it guesses single-byte pages (cp775 for a cp1252 "€")
# that nothing here would have written, so its other answers are not taken.
_MULTI_BYTE = {
    "cp932": "cp932",
    "shift_jis": "cp932",  # point-of-sale systems on Windows write Microsoft's superset
    "euc_jp": "euc_jp",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5",
    "cp950": "big5",
    "euc_kr": "cp949",
    "cp949": "cp949",
}


def _legacy_encoding(head: bytes) -> str:
    """Not UTF-8: Excel on Windows saves "CSV" in the ANSI code page, cp1252 in the west, cp932
    in Japan. Which one is a guess that charset-normalizer makes better than a rule would."""
    best = charset_normalizer.from_bytes(head).best()
    guess = _MULTI_BYTE.get(best.encoding) if best is not None else None
    return guess or "cp1252"


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _best_delimiter(line: str) -> str:
    counts = {d: len(_split(line, d)) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 1 else ","


class Candidates:
    """The lines that may be the header (the first ``HEADER_SEARCH_LINES`` that are not blank),
    each split with its likeliest delimiter when first asked for: most files' header is the
    first line, and splitting ten lines four ways cost more than reading a small file."""

    def __init__(self, text: str) -> None:
        self._lines = enumerate(text.splitlines(), start=1)
        self._found: list[Candidate] = []

    def _next(self) -> bool:
        if len(self._found) >= HEADER_SEARCH_LINES:
            return False
        for number, line in self._lines:
            if not line.strip().strip(",;\t|").strip():
                continue
            delimiter = _best_delimiter(line)
            cells = [cell.strip().lstrip("\ufeff").strip() for cell in _split(line, delimiter)]
            self._found.append(Candidate(number, delimiter, cells))
            return True
        return False

    def __iter__(self) -> typing.Iterator[Candidate]:
        position = 0
        while position < len(self._found) or self._next():
            yield self._found[position]
            position += 1

    def __getitem__(self, position: int) -> Candidate:
        while len(self._found) <= position and self._next():
            pass
        return self._found[position]

    def __bool__(self) -> bool:
        return bool(self._found) or self._next()


def open_source(stream: typing.BinaryIO) -> TextSource:
    head = _read_head(stream, len(GZIP_MAGIC))
    raw: typing.BinaryIO | io.RawIOBase = _Prefixed(head, stream)
    compressed = head.startswith(GZIP_MAGIC)
    if compressed:
        raw = _BoundedGunzip(typing.cast(typing.BinaryIO, raw))
    head = _read_head(raw, SNIFF_BYTES)
    if not head.strip():
        raise UnreadableUpload("The file is empty: there is nothing to load.")
    what = binary_format(head)
    if what is not None:
        raise UnreadableUpload(f"This file is {what}, not a CSV. {_SAVE_AS_CSV}")
    encoding = _detect_encoding(head)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text_head = decoder.decode(head, final=len(head) < SNIFF_BYTES)
    if "\x00" in text_head:
        raise UnreadableUpload(f"This file is not text (it holds binary data). {_SAVE_AS_CSV}")
    candidates = Candidates(text_head)
    if not candidates:
        raise UnreadableUpload("The file is empty: there is nothing to load.")
    used = False

    def claim() -> None:
        nonlocal used
        if used:
            raise RuntimeError("an upload's stream can be read once")
        used = True

    def open_text() -> typing.TextIO:
        claim()
        buffered = io.BufferedReader(_Prefixed(head, raw), buffer_size=1024 * 1024)
        return io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline="")

    def open_utf8() -> typing.BinaryIO:
        if encoding not in ("utf-8", "utf-8-sig"):
            return typing.cast(typing.BinaryIO, io.BufferedReader(_Utf8Encoded(open_text())))
        claim()
        body = head[len(codecs.BOM_UTF8) :] if head.startswith(codecs.BOM_UTF8) else head
        # Invalid bytes pass through here; the reader replaces them as the decoder would.
        return typing.cast(
            typing.BinaryIO, io.BufferedReader(_Prefixed(body, raw), buffer_size=1024 * 1024)
        )

    return TextSource(encoding, compressed, candidates, open_text, open_utf8)
