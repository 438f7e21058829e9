"""Request and response models, separate from the tables they are read from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

Metric = Literal["sales", "covers", "orders", "items"]
UploadStatus = Literal["received", "processing", "loaded", "rejected", "duplicate"]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the token expires")


class UploadAccepted(BaseModel):
    upload_id: UUID
    status: Literal["received"] = "received"


class UploadSummary(BaseModel):
    upload_id: UUID
    filename: str
    status: UploadStatus
    format: str | None
    size_bytes: int | None
    rows_total: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    date_min: date | None
    date_max: date | None
    error: str | None
    received_at: datetime
    processed_at: datetime | None


class RejectedRow(BaseModel):
    line_number: int | None
    column: str | None
    value: str | None
    reason: str


class UploadDetail(UploadSummary):
    rejected_rows: list[RejectedRow] = Field(
        description="the first rejected rows, by line number (rows_rejected counts them all)"
    )


class UploadPage(BaseModel):
    items: list[UploadSummary]
    total: int
    limit: int
    offset: int


class ForecastPoint(BaseModel):
    date: date
    metric: Metric
    p10: float
    p50: float
    p90: float
    model_version: int


class DailyActual(BaseModel):
    date: date
    metric: Metric
    value: float


class CurrentModel(BaseModel):
    metric: Metric
    version: int
    model_kind: str
    wape: float | None = Field(description="backtest weighted absolute percentage error")
    baseline_wape: float | None = Field(description="the seasonal-naive baseline's WAPE")
    trained_at: datetime


class Health(BaseModel):
    status: Literal["ok"] = "ok"
