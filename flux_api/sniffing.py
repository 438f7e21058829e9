"""Is an upload delimited text? Decided from its first bytes, before the pipeline sees it.

Only plain text (UTF-8, a code page, or UTF-16) and gzip-compressed text are accepted;
spreadsheets, PDFs, other archives and any binary data are refused with a message that says what
the file looks like and what to send instead (``flux_core.filetypes`` knows the signatures).
Deeper defects (gzip bombs, layouts, encodings) are the parser's business.
"""

from __future__ import annotations

import zlib

from flux_core.filetypes import ASK_FOR_CSV, GZIP_MAGIC, binary_format, holds_binary

SNIFF_BYTES = 8192


def refusal(head: bytes) -> str | None:
    """Why these first bytes are not delimited text, or ``None`` when they may be."""
    if head.startswith(GZIP_MAGIC):
        try:
            inner = zlib.decompressobj(wbits=31).decompress(head, SNIFF_BYTES)
        except zlib.error:
            return f"the file is a damaged gzip archive; {ASK_FOR_CSV}"
        if inner.startswith(GZIP_MAGIC):
            return f"the file is gzip inside gzip; {ASK_FOR_CSV}"
        reason = refusal(inner)
        return f"inside gzip: {reason}" if reason else None
    what = binary_format(head)
    if what is not None:
        return f"the file looks like {what}; {ASK_FOR_CSV}"
    if holds_binary(head):
        return f"the file holds binary data (NUL bytes), not text; {ASK_FOR_CSV}"
    return None
