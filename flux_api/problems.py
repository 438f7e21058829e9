"""Errors as ``application/problem+json`` (RFC 9457), and never a stack trace.

Routes raise ``HTTPException`` as usual; these handlers give every error, including validation
errors and unexpected failures, the same shape: ``type``, ``title``, ``status``, ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import psycopg
import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from flux_core.landing import LandingZoneUnavailable

PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger(__name__)


def problem(
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        **({"detail": detail} if detail else {}),
        **extensions,
    }
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(exc.status_code, detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: the rejected input itself may be a password or a file's content.
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    return problem(422, "the request is not valid", errors=errors)


# How long a client should wait before trying again when a component Flux needs is away.
RETRY_AFTER_SECONDS = 30


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A component is away (the database, the landing zone): 503 with Retry-After, and the
    reason in words; the request changed nothing (a transaction that failed rolled back)."""
    route = request.scope.get("route")
    what = "the file store" if isinstance(exc, LandingZoneUnavailable) else "the database"
    log.warning(
        "component_unavailable",
        route=getattr(route, "path", None),
        component=what,
        error=type(exc).__name__,
    )
    return problem(
        503,
        f"{what} is not reachable right now; nothing was changed. Please try again in a moment",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    route = request.scope.get("route")
    log.error("unhandled_error", route=getattr(route, "path", None), exc_info=exc)
    return problem(500, "an unexpected error occurred")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for unavailable in (
        sa.exc.OperationalError,
        sa.exc.TimeoutError,
        psycopg.OperationalError,
        PoolTimeout,
        LandingZoneUnavailable,
    ):
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx in the OpenAPI document as ``application/problem+json`` with ``Problem``."""
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if str(code)[:1] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": ref}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
