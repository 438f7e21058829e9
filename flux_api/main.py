"""The dashboard API: ``create_app()`` builds it; ``uvicorn flux_api.main:app`` serves it.

Nothing here touches the database at import: the engine and the landing zone are made on first use.
The OpenAPI 3.1 document is at ``/v1/openapi.json`` and its viewer at ``/v1/docs``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from flux_api.logs import RequestLogMiddleware, configure_logging
from flux_api.problems import install_problem_handlers, problem_openapi
from flux_api.routes import auth, forecasts, health, models, sales, uploads, users
from flux_api.token_settings import TokenSettings
from flux_pipelines.settings import FluxSettings, get_settings


def create_app(
    settings: FluxSettings | None = None, token_settings: TokenSettings | None = None
) -> FastAPI:
    """``settings`` fixed for this app (tests); ``None`` reads ``FLUX_*`` on first use."""
    token_settings = token_settings or TokenSettings()
    configure_logging((settings or get_settings()).log_level)
    app = FastAPI(
        title="Flux",
        summary="Daily demand forecasts for restaurants",
        version="1",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.token_settings = token_settings
    install_problem_handlers(app)
    app.add_middleware(RequestLogMiddleware)
    routers = [health, uploads, forecasts, sales, models, users]
    if token_settings.algorithm == "HS256":
        routers.insert(1, auth)
    for module in routers:
        app.include_router(module.router)

    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return problem_openapi(fastapi_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()
