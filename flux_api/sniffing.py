"""Is an upload delimited text? Decided from its first bytes, before the pipeline sees it.

Only plain text and gzip-compressed text are accepted; spreadsheets, PDFs, other archives and any
binary data are refused with a message that says what the file looks like and what to send instead.
Deeper defects (gzip bombs, layouts, encodings) are the parser's business.
"""

from __future__ import annotations

import zlib

SNIFF_BYTES = 8192

_ASK = "export the data as CSV (comma- or semicolon-separated text, optionally gzip-compressed)"

# Magic numbers of what people send by mistake, most common first.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
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
    (b"\xff\xfe", "UTF-16 text; save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text; save it as UTF-8"),
)
_GZIP = b"\x1f\x8b"


def refusal(head: bytes) -> str | None:
    """Why these first bytes are not delimited text, or ``None`` when they may be."""
    if head.startswith(_GZIP):
        try:
            inner = zlib.decompressobj(wbits=31).decompress(head, SNIFF_BYTES)
        except zlib.error:
            return f"the file is a damaged gzip archive; {_ASK}"
        if inner.startswith(_GZIP):
            return f"the file is gzip inside gzip; {_ASK}"
        reason = refusal(inner)
        return f"inside gzip: {reason}" if reason else None
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return f"the file looks like {what}; {_ASK}"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return f"the file looks like a bzip2 archive; {_ASK}"
    if head[257:262] == b"ustar":
        return f"the file looks like a tar archive; {_ASK}"
    if b"\x00" in head:
        return f"the file holds binary data (NUL bytes), not text; {_ASK}"
    return None
