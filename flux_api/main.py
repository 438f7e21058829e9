"""The dashboard API: ``create_app()`` builds it; ``uvicorn flux_api.main:app`` serves it.

Nothing here touches the database at import: the engine and the landing zone are made on first use.
"""

from __future__ import annotations

from fastapi import FastAPI

from flux_api.problems import install_problem_handlers
from flux_api.routes import auth, forecasts, health, models, sales, uploads
from flux_pipelines.settings import FluxSettings


def create_app(settings: FluxSettings | None = None) -> FastAPI:
    """``settings`` fixed for this app (tests); ``None`` reads ``FLUX_*`` on first use."""
    app = FastAPI(
        title="Flux",
        summary="Daily demand forecasts for restaurants",
        version="1",
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for module in (health, auth, uploads, forecasts, sales, models):
        app.include_router(module.router)
    return app


app = create_app()
