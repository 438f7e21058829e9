"""What a restaurant knows about coming days: bookings, the days it tells Flux about, and its
own numbers for a day's forecast.

- ``flux.staged_bookings``: booking exports, summed per (visit day, day booked). Corrections
  replace whole visit days, and the later-received upload of a visit day wins, as for sales.
- ``flux.store_codes``: which store of a multi-store booking export is which tenant.
- ``flux.calendar_days``: closures (forecast as zero, left out of every score), events and
  promotions (a flag the models learn from), each with a note.
- ``flux.forecast_adjustments``: a manager's number for a day and metric, with a reason; the
  model's value is kept beside it, so both can be scored when the day's actuals arrive.

Tenant-owned, with forced RLS as every table of 0001.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TENANT_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"

TABLES = """
create table flux.staged_bookings (
  tenant_id  uuid not null references flux.tenants on delete cascade,
  visit_date date not null,
  booked_on  date not null check (booked_on <= visit_date),
  covers     numeric(10, 1) not null check (covers > 0),
  bookings   integer not null check (bookings > 0),
  upload_id  uuid not null,
  loaded_at  timestamptz not null default now(),
  primary key (tenant_id, visit_date, booked_on)
);

create table flux.store_codes (
  store_code text primary key check (length(store_code) between 1 and 200),
  tenant_id  uuid not null references flux.tenants on delete cascade
);
create index store_codes_tenant_idx on flux.store_codes (tenant_id);

create table flux.calendar_days (
  day_id     uuid primary key default gen_random_uuid(),
  tenant_id  uuid not null references flux.tenants on delete cascade,
  date       date not null,
  kind       text not null check (kind in ('closed', 'event', 'promotion')),
  note       text not null default '' check (length(note) <= 500),
  created_by uuid references flux.users on delete set null,
  created_at timestamptz not null default now(),
  unique (tenant_id, date, kind)
);

create table flux.forecast_adjustments (
  tenant_id   uuid not null references flux.tenants on delete cascade,
  metric      text not null,
  date        date not null,
  value       double precision not null check (value >= 0 and value < 1e12),
  model_p50   double precision,
  reason      text not null check (length(reason) between 1 and 500),
  set_by      uuid references flux.users on delete set null,
  set_at      timestamptz not null default now(),
  primary key (tenant_id, metric, date)
);

grant select, insert, update, delete on flux.staged_bookings, flux.store_codes,
  flux.calendar_days, flux.forecast_adjustments to flux_pipeline;
grant select on flux.staged_bookings, flux.store_codes to flux_api;
grant select, insert, update, delete on flux.calendar_days, flux.forecast_adjustments to flux_api;
"""

NAMES = ("staged_bookings", "store_codes", "calendar_days", "forecast_adjustments")


def upgrade() -> None:
    op.execute(TABLES)
    for name in NAMES:
        op.execute(f"alter table flux.{name} enable row level security")
        op.execute(f"alter table flux.{name} force row level security")
        op.execute(
            f"create policy tenant_isolation on flux.{name} to flux_api "
            f"using ({TENANT_PREDICATE}) with check ({TENANT_PREDICATE})"
        )
        op.execute(
            f"create policy pipeline_all on flux.{name} to flux_pipeline "
            "using (true) with check (true)"
        )


def downgrade() -> None:
    for name in reversed(NAMES):
        op.execute(f"drop table flux.{name}")
