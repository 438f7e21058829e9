"""``ETag`` and ``Cache-Control`` for answers that change at most nightly (forecasts).

The tag is a hash of the exact body, so it changes exactly when the answer does; ``private`` and
``Vary: Authorization`` keep shared caches from handing one restaurant's answer to another.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi import Request, Response

MAX_AGE_SECONDS = 300


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match asks for."""
    if not if_none_match:
        return False
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def cached_json(request: Request, payload: Any) -> Response:
    """``payload`` (plain dicts and lists, dates, floats) as JSON with its ``ETag``: built
    directly, not through the response model, which only documents the shape in OpenAPI."""
    body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={MAX_AGE_SECONDS}, must-revalidate",
        "Vary": "Authorization",
    }
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
