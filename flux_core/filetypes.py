"""What an upload's first bytes say it is: the one table of file signatures.

The API refuses what is plainly not delimited text before it stores a byte; the parser refuses
the same files with the same words when they arrive another way (the CLI, a bucket). Both read
UTF-16 text, which spreadsheets write when asked for "Unicode text": its NUL bytes are text here.
"""

from __future__ import annotations

import codecs

GZIP_MAGIC = b"\x1f\x8b"

# Magic numbers of what people send by mistake, most common first.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx or OpenDocument spreadsheet is one)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"),
    (b"%PDF-", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 .xls workbook"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)

ASK_FOR_CSV = (
    "export the data as CSV (comma- or semicolon-separated text, optionally gzip-compressed)"
)


def binary_format(head: bytes) -> str | None:
    """What these first bytes are when they are a known binary format, else ``None``."""
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "a bzip2 archive"
    if head[257:262] == b"ustar":
        return "a tar archive"
    return None


def utf16_encoding(head: bytes) -> str | None:
    """The UTF-16 codec of text that starts with these bytes, or ``None`` if it is not UTF-16.

    With a byte-order mark, ``utf-16`` (the codec reads the mark). Without one, text in UTF-16 has
    a NUL beside nearly every ASCII character, always on the same side.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if b"\x00" not in sample:
        return None
    even_zeros, odd_zeros = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) / 2
    if odd_zeros > 0.4 * half and even_zeros < 0.1 * half:
        return "utf-16-le"
    if even_zeros > 0.4 * half and odd_zeros < 0.1 * half:
        return "utf-16-be"
    return None


def holds_binary(head: bytes) -> bool:
    """NUL bytes in what is not UTF-16: no text export has them."""
    return b"\x00" in head and utf16_encoding(head) is None
