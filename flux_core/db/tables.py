"""SQLAlchemy Core views of the tables the migrations create (the migrations are the source of truth).

Code builds its statements from these objects rather than from SQL strings.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData(schema="flux")

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column(
        "tenant_id",
        UUID(as_uuid=True),
        primary_key=True,
        server_default=sa.text("gen_random_uuid()"),
    ),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False, server_default="US"),
    sa.Column("subdivision", sa.Text),  # a US state, a German Land (0011); null: the country
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column(
        "user_id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
    ),
    sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("disabled_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("upload_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("object_key", sa.Text, nullable=False, unique=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_sha256", sa.Text),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("status", sa.Text, nullable=False, server_default="received"),
    sa.Column("format", sa.Text),
    sa.Column("rows_total", sa.Integer),
    sa.Column("rows_loaded", sa.Integer),
    sa.Column("rows_rejected", sa.Integer),
    sa.Column("date_min", sa.Date),
    sa.Column("date_max", sa.Date),
    sa.Column("error", sa.Text),
    sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("processed_at", sa.DateTime(timezone=True)),
    # 0004: what a correction replaced, the mapping sent with the file, the parser's warnings.
    sa.Column("days_replaced", sa.Integer),
    sa.Column(
        "replaced_uploads",
        ARRAY(UUID(as_uuid=True)),
        nullable=False,
        server_default=sa.text("'{}'"),
    ),
    sa.Column("column_mapping", JSONB(none_as_null=True)),
    sa.Column("warnings", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    # 0009: load attempts that failed for a reason outside the file (status 'failed' once spent).
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
)

staged_sales = sa.Table(
    "staged_sales",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("value", sa.Numeric(14, 2), nullable=False),
    sa.Column("upload_id", UUID(as_uuid=True), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

# What line-item exports sold, one row per tenant and day (0008): the day's items and, at the same
# positions, their quantities and revenues. Corrections replace whole days.
staged_item_sales = sa.Table(
    "staged_item_sales",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("items", ARRAY(sa.Text), nullable=False),
    sa.Column("quantities", ARRAY(sa.Numeric(14, 3)), nullable=False),
    sa.Column("revenues", ARRAY(sa.Numeric(14, 2)), nullable=False),
    sa.Column("upload_id", UUID(as_uuid=True), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

rejected_rows = sa.Table(
    "rejected_rows",
    metadata,
    sa.Column("rejected_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("upload_id", UUID(as_uuid=True), nullable=False),
    sa.Column("line_number", sa.Integer),
    sa.Column("column_name", sa.Text),
    sa.Column("value", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("model_kind", sa.Text, nullable=False),
    sa.Column("is_champion", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("wape", sa.Float),
    sa.Column("baseline_wape", sa.Float),
    sa.Column("backtest", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("mlflow_run_id", sa.Text),
    sa.Column("trained_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

forecasts = sa.Table(
    "forecasts",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("p10", sa.Float, nullable=False),
    sa.Column("p50", sa.Float, nullable=False),
    sa.Column("p90", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("origin", sa.Date),  # the day before the first forecast day (0012)
)

# The forecast shown for a day, beside the day's actual once it arrived (0012).
forecast_outcomes = sa.Table(
    "forecast_outcomes",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("origin", sa.Date, nullable=False),
    sa.Column("horizon", sa.Integer, sa.Computed("date - origin")),
    sa.Column("p10", sa.Float, nullable=False),
    sa.Column("p50", sa.Float, nullable=False),
    sa.Column("p90", sa.Float, nullable=False),
    sa.Column("actual", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

public_holidays = sa.Table(
    "public_holidays",
    metadata,
    sa.Column("country", sa.Text, primary_key=True),
    # '' for the country-wide calendar; a region's calendar holds the national days too (0011).
    sa.Column("subdivision", sa.Text, primary_key=True, server_default=""),
    sa.Column("category", sa.Text, primary_key=True, server_default="public"),  # or 'school'
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

# Booking exports, summed per (visit day, day booked) (0010).
staged_bookings = sa.Table(
    "staged_bookings",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("visit_date", sa.Date, primary_key=True),
    sa.Column("booked_on", sa.Date, primary_key=True),
    sa.Column("covers", sa.Numeric(10, 1), nullable=False),
    sa.Column("bookings", sa.Integer, nullable=False),
    sa.Column("upload_id", UUID(as_uuid=True), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

store_codes = sa.Table(
    "store_codes",
    metadata,
    sa.Column("store_code", sa.Text, primary_key=True),
    sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
)

# Days the restaurant told Flux about: closed, event, promotion (0010).
calendar_days = sa.Table(
    "calendar_days",
    metadata,
    sa.Column(
        "day_id", UUID(as_uuid=True), primary_key=True, server_default=sa.func.gen_random_uuid()
    ),
    sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

# A manager's own number for a day's forecast, beside the model's (0010).
forecast_adjustments = sa.Table(
    "forecast_adjustments",
    metadata,
    sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("model_p50", sa.Float),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("set_by", UUID(as_uuid=True)),
    sa.Column("set_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)
