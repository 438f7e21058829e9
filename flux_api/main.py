"""The dashboard API: ``create_app()`` builds it; ``uvicorn flux_api.main:app`` serves it.

Nothing here touches the database at import: the read path's pool opens with the app's lifespan
(each worker process, before it serves), the write path's engine and the landing zone on first use.
The OpenAPI 3.1 document is at ``/v1/openapi.json`` and its viewer at ``/v1/docs``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from flux_api.logs import RequestLogMiddleware, configure_logging
from flux_api.problems import install_problem_handlers, problem_openapi
from flux_api.reads import open_read_pool
from flux_api.routes import (
    accuracy,
    adjustments,
    auth,
    calendar,
    days,
    forecasts,
    health,
    models,
    sales,
    tenant,
    uploads,
    users,
)
from flux_api.security import TokenVerifier
from flux_core.settings import FluxSettings, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = open_read_pool(app.state.settings or get_settings())
    # Not waiting: the app starts (and /readyz answers 503) while the database is unreachable.
    await pool.open(wait=False)
    app.state.read_pool = pool
    _freeze_startup_heap()
    try:
        yield
    finally:
        app.state.read_pool = None
        await pool.close()


def _freeze_startup_heap() -> None:
    """Keep the objects of imports and startup out of every later garbage collection.

    A worker holds about 143,000 long-lived objects (FastAPI, pydantic, SQLAlchemy, boto3; 200,000
    while the API still imported pandas through the parsers); each full (gen2) collection walked
    them all, a pause of tens of milliseconds every few seconds under load that stalled every
    request in flight: the benchmark's p99. Frozen, they are
    never collected (they live as long as the process anyway) and a full collection takes ~1-9 ms.
    Collect first so that startup garbage is freed, not frozen.
    """
    gc.collect()
    gc.freeze()


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase (``list_forecasts``: ``listForecasts``): stable
    while the function keeps its name, and what the dashboard's generated client calls it."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def create_app(settings: FluxSettings | None = None) -> FastAPI:
    """``settings`` fixed for this app (tests); ``None`` reads ``FLUX_*``."""
    effective = settings or get_settings()
    configure_logging(effective.log_level)
    app = FastAPI(
        lifespan=lifespan,
        title="Flux",
        summary="Daily demand forecasts for restaurants",
        version="1",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.read_pool = None
    app.state.token_verifier = TokenVerifier.from_settings(effective)
    install_problem_handlers(app)
    app.add_middleware(RequestLogMiddleware)
    routers = [
        health,
        tenant,
        uploads,
        forecasts,
        adjustments,
        calendar,
        days,
        sales,
        models,
        accuracy,
        users,
    ]
    if effective.token_algorithm == "HS256":  # noqa: S105 (an algorithm name)
        routers.insert(1, auth)
    for module in routers:
        app.include_router(module.router)

    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return problem_openapi(fastapi_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()
