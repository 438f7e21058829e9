"""Request and response models, separate from the tables they are read from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from flux_core.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, UserRole

Metric = Literal["sales", "covers", "orders", "items"]
UploadStatus = Literal["received", "processing", "loaded", "rejected", "duplicate", "failed"]

T = TypeVar("T")

# Deliberately loose (one @, a dot in the domain): deliverability is the inviting owner's business.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
    ),
]
Password = Annotated[
    SecretStr, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
]


class Problem(BaseModel):
    """An error, as ``application/problem+json`` (RFC 9457)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="items matching the query, across all pages")
    limit: int
    offset: int


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
    error: str | None = Field(
        description="why the file was refused, or why the last try to load it failed"
    )
    attempts: int = Field(
        description="tries to load it that failed for a reason outside the file; at 3 it is failed"
    )
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


class UploadReport(UploadDetail):
    """``GET /v1/uploads/{id}``: the detail, with what a correction replaced and how it was read."""

    days_replaced: int | None = Field(
        description="days already loaded by earlier uploads that this upload replaced"
    )
    replaced_uploads: list[UUID] = Field(
        description="the earlier uploads whose days this upload corrected"
    )
    column_mapping: dict[str, str] | None = Field(
        description="the explicit column mapping sent with the file (our name -> its header)"
    )
    warnings: list[str] = Field(
        description="what was loaded but deserves a look: unusual values, how dates were read"
    )


class ForecastPoint(BaseModel):
    date: date
    metric: Metric
    p10: float = Field(description="0 on a day the restaurant said it is closed, as p50 and p90")
    p50: float
    p90: float
    model_version: int
    closed: bool = Field(description="the restaurant said it is closed that day")
    adjusted_p50: float | None = Field(
        description="the number an owner or a manager set for the day instead of p50, if any"
    )
    adjustment_reason: str | None


class ModelAccuracy(BaseModel):
    metric: Metric
    version: int
    model_kind: str
    wape: float | None = Field(description="backtest weighted absolute percentage error")
    baseline_wape: float | None = Field(description="the seasonal-naive baseline's WAPE")
    typical_error: float | None = Field(
        description="on 8 backtest days in 10 the forecast was within this share of the actual "
        "(the 80th percentile of the absolute percentage error); null for older models"
    )
    baseline_typical_error: float | None = Field(
        description="the same for the baseline rule, 'same day last week'"
    )
    trained_at: datetime


class ForecastModel(ModelAccuracy):
    generated_at: datetime = Field(description="when this model wrote the forecast")


class ForecastPage(Page[ForecastPoint]):
    models: list[ForecastModel] = Field(
        description="the model version behind the points of this page, with its backtest accuracy"
    )


class ActualVersusForecast(BaseModel):
    date: date
    metric: Metric
    actual: float | None = Field(description="the value loaded for the day; null if none")
    p10: float | None
    p50: float | None
    p90: float | None
    model_version: int | None


class DailyActual(BaseModel):
    date: date
    metric: Metric
    value: float


CurrentModel = ModelAccuracy


class LiveAccuracy(BaseModel):
    """How the forecasts shown did against what happened, over a metric's last days of actuals."""

    metric: Metric
    window_days: Literal[7, 28] = Field(description="the last 7 or 28 days with actuals")
    days: int = Field(description="days scored: forecast shown, actual known, not closed")
    first_day: date
    last_day: date
    wape: float | None = Field(description="sum of |P50 - actual| / sum of actuals")
    bias: float | None = Field(description="sum of (P50 - actual) / sum of actuals: > 0 is over")
    coverage_p10_p90: float | None = Field(description="share of days within P10-P90 (aim: 0.8)")
    mean_horizon: float | None = Field(description="mean days between issue and the day")
    backtest_wape: float | None = Field(description="what the current champion's backtest showed")


class TenantProfile(BaseModel):
    """The restaurant itself, and how its numbers, money and dates are written."""

    tenant_id: UUID
    name: str
    country: str = Field(description="ISO 3166-1 alpha-2: public holidays and formats follow it")
    subdivision: str | None = Field(
        description="its region (a US state, a German Land), whose holidays apply; null for none"
    )
    locale: str = Field(description="BCP 47 tag of the country's main locale, e.g. en-US, ja-JP")
    currency: str = Field(description="ISO 4217 code of the country's currency, e.g. USD")


ToldKind = Literal["closed", "event", "promotion"]
CalendarKind = Literal["public_holiday", "school_holiday", "closed", "event", "promotion"]
# Days a restaurant tells Flux about lie in this span: older than any sales history we load, or
# further ahead than any forecast, they are a typing mistake.
TOLD_DAYS_FROM = date(1990, 1, 1)
TOLD_DAYS_YEARS_AHEAD = 3


class CalendarDay(BaseModel):
    date: date
    kind: CalendarKind
    name: str = Field(description="the holiday's name, or the note of a day the restaurant told")


Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ToldDay(BaseModel):
    """A day the restaurant told Flux about: closed (forecast as zero, out of every score), or an
    event or a promotion (a flag the models learn from)."""

    day_id: UUID
    date: date
    kind: ToldKind
    note: str
    created_at: datetime


class ToldDayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    kind: ToldKind
    note: Note = ""


Day = date  # a field named ``date`` hides the type in its own class body


class ToldDayUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day | None = None
    kind: ToldKind | None = None
    note: Note | None = None


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class AdjustmentSet(BaseModel):
    """An owner's or a manager's own number for a day, with why (a party of 40, a street fair)."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=0, lt=1e12, allow_inf_nan=False)
    reason: Reason


class Adjustment(BaseModel):
    date: date
    metric: Metric
    value: float = Field(description="the number set for the day")
    model_p50: float | None = Field(
        description="the model's P50 for the day when the number was set; null if it had none"
    )
    reason: str
    set_by: str | None = Field(description="who set it (e-mail); null once they are removed")
    set_at: datetime
    actual: float | None = Field(description="the day's actual, once loaded")


class AdjustmentAccuracy(BaseModel):
    """How the numbers people set compare with the model's, on the days whose actuals are in."""

    metric: Metric
    days: int = Field(description="adjusted days with an actual, closed days left out")
    model_wape: float | None = Field(description="the model's WAPE on those days")
    adjusted_wape: float | None = Field(description="the WAPE of the numbers people set")
    days_closer: int = Field(description="days on which the number set was closer than the model")


class UserPublic(BaseModel):
    user_id: UUID
    email: str
    role: UserRole
    disabled: bool
    created_at: datetime


class UserCreate(BaseModel):
    """An invitation: the owner sets a first password and hands it over; the user changes it."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    role: UserRole
    password: Password


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: UserRole | None = None
    disabled: bool | None = None
    password: Password | None = Field(default=None, description="a new first password (a reset)")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: SecretStr = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: Password


class Health(BaseModel):
    status: Literal["ok"] = "ok"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors a route can give (rewritten to problem+json in main)."""
    return {code: {"model": Problem} for code in statuses}
