"""What restaurants were shown, beside what happened: the live accuracy of Flux's forecasts.

- ``flux.forecasts.origin``: the day before the forecast's first day (what it was issued after),
  so a forecast's horizon is ``date - origin``. Null on rows written before this revision.
- ``flux.forecast_outcomes``: when actuals arrive for a day Flux forecast, the forecast as it was
  shown (the last one before the actuals: quantiles, version, horizon, when it was issued) and the
  actual. Written by the forecasts step as it replaces a tenant's forecasts; read by
  ``GET /v1/accuracy`` and by the nightly's reselection (``flux_core/forecasts/accuracy.py``).

Tenant-owned, with forced RLS as every table of 0001; the API only reads it.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TENANT_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"

TABLES = """
alter table flux.forecasts add column origin date;

create table flux.forecast_outcomes (
  tenant_id     uuid not null references flux.tenants on delete cascade,
  metric        text not null,
  date          date not null,
  origin        date not null check (origin < date),
  horizon       integer not null generated always as (date - origin) stored,
  p10           double precision not null,
  p50           double precision not null,
  p90           double precision not null,
  actual        double precision not null check (actual >= 0),
  model_version integer not null,
  issued_at     timestamptz not null,
  recorded_at   timestamptz not null default now(),
  primary key (tenant_id, metric, date)
);

grant select, insert, update, delete on flux.forecast_outcomes to flux_pipeline;
grant select on flux.forecast_outcomes to flux_api;
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute("alter table flux.forecast_outcomes enable row level security")
    op.execute("alter table flux.forecast_outcomes force row level security")
    op.execute(
        "create policy tenant_isolation on flux.forecast_outcomes to flux_api "
        f"using ({TENANT_PREDICATE}) with check ({TENANT_PREDICATE})"
    )
    op.execute(
        "create policy pipeline_all on flux.forecast_outcomes to flux_pipeline "
        "using (true) with check (true)"
    )


def downgrade() -> None:
    op.execute("drop table flux.forecast_outcomes")
    op.execute("alter table flux.forecasts drop column origin")
