"""``GET /v1/accuracy``: the live accuracy of the forecasts the restaurant was shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from flux_api.deps import Allowed, TenantConnection
from flux_api.schemas import LiveAccuracy, problem_responses
from flux_api.security import TokenClaims
from flux_core.forecasts.accuracy import WINDOWS, live_accuracy

router = APIRouter(prefix="/v1/accuracy", tags=["models"], responses=problem_responses(401, 403))


@router.get("", response_model=list[LiveAccuracy])
def accuracy(
    user: Annotated[TokenClaims, Allowed("models:read")], conn: TenantConnection
) -> list[LiveAccuracy]:
    """Per metric, over its last 7 and its last 28 days with actuals: WAPE, bias and the
    P10-P90 coverage of what was shown, beside what the champion's backtest promised. Empty
    until actuals arrive for days Flux had forecast. Two rows per metric at most: never paged."""
    return [
        LiveAccuracy.model_validate(dict(row))
        for days in WINDOWS
        for row in conn.execute(live_accuracy(days)).mappings()
    ]
