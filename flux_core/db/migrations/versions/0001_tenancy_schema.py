"""Roles, the flux schema, and row-level security on every tenant-owned table.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Tables the API reads or writes; each is tenant-owned and gets forced RLS.
TENANT_TABLES = (
    "tenants",
    "users",
    "uploads",
    "staged_sales",
    "rejected_rows",
    "model_versions",
    "forecasts",
)

ROLES = """
do $$
declare r text;
begin
  foreach r in array array['flux_pipeline', 'flux_api', 'flux_analyst'] loop
    if not exists (select from pg_roles where rolname = r) then
      execute format('create role %I login nosuperuser nocreatedb nocreaterole', r);
    end if;
    -- Owning Dagster's and MLflow's databases means inheriting pg_database_owner's rights there.
    execute format('alter role %I inherit', r);
  end loop;
end $$;
-- The owner creates the service databases owned by the pipeline role, which needs membership.
grant flux_pipeline to current_user;
"""

SCHEMA = """
create schema flux;
grant usage on schema flux to flux_pipeline, flux_api;
grant create on database {database} to flux_pipeline;

create table flux.tenants (
  tenant_id  uuid primary key default gen_random_uuid(),
  name       text not null check (length(name) between 1 and 200),
  country    text not null default 'US' check (country ~ '^[A-Z]{{2}}$'),
  created_at timestamptz not null default now()
);

create table flux.users (
  user_id       uuid primary key default gen_random_uuid(),
  tenant_id     uuid not null references flux.tenants on delete cascade,
  email         text not null,
  password_hash text not null,
  role          text not null check (role in ('owner', 'manager', 'chef')),
  disabled_at   timestamptz,
  created_at    timestamptz not null default now()
);
create unique index users_email_key on flux.users (lower(email));
create index users_tenant_idx on flux.users (tenant_id);

create table flux.uploads (
  upload_id      uuid primary key default gen_random_uuid(),
  tenant_id      uuid not null references flux.tenants on delete cascade,
  object_key     text not null unique,
  filename       text not null,
  content_sha256 text,
  size_bytes     bigint,
  status         text not null default 'received'
                 check (status in ('received', 'processing', 'loaded', 'rejected', 'duplicate')),
  format         text,
  rows_total     integer,
  rows_loaded    integer,
  rows_rejected  integer,
  date_min       date,
  date_max       date,
  error          text,
  received_at    timestamptz not null default now(),
  processed_at   timestamptz
);
create index uploads_tenant_idx on flux.uploads (tenant_id, received_at desc);

-- Long format (tenant, day, metric): one row per measure and day, the last upload that covered it wins.
create table flux.staged_sales (
  tenant_id uuid not null references flux.tenants on delete cascade,
  date      date not null,
  metric    text not null check (metric in ('sales', 'covers', 'orders', 'items')),
  value     numeric(14, 2) not null check (value >= 0),
  upload_id uuid not null references flux.uploads on delete cascade,
  loaded_at timestamptz not null default now(),
  primary key (tenant_id, metric, date)
);

create table flux.rejected_rows (
  rejected_id bigint generated always as identity primary key,
  tenant_id   uuid not null references flux.tenants on delete cascade,
  upload_id   uuid not null references flux.uploads on delete cascade,
  line_number integer,
  column_name text,
  value       text,
  reason      text not null
);
create index rejected_rows_upload_idx on flux.rejected_rows (upload_id, line_number);

create table flux.model_versions (
  tenant_id      uuid not null references flux.tenants on delete cascade,
  metric         text not null,
  version        integer not null,
  model_name     text not null,
  model_kind     text not null,
  is_champion    boolean not null default false,
  wape           double precision,
  baseline_wape  double precision,
  backtest       jsonb not null default '{{}}',
  mlflow_run_id  text,
  trained_at     timestamptz not null default now(),
  primary key (tenant_id, metric, version)
);
create unique index model_versions_one_champion on flux.model_versions (tenant_id, metric) where is_champion;

create table flux.forecasts (
  tenant_id     uuid not null references flux.tenants on delete cascade,
  metric        text not null,
  date          date not null,
  p10           double precision not null,
  p50           double precision not null,
  p90           double precision not null,
  model_version integer not null,
  created_at    timestamptz not null default now(),
  primary key (tenant_id, metric, date),
  check (p10 <= p50 and p50 <= p90)
);

-- Public holidays per country (from the `holidays` package): reference data, not tenant-owned.
create table flux.public_holidays (
  country text not null,
  date    date not null,
  name    text not null,
  primary key (country, date)
);
grant select on flux.public_holidays to flux_api;

grant select, insert, update, delete on all tables in schema flux to flux_pipeline;
grant select on flux.tenants, flux.uploads, flux.staged_sales, flux.rejected_rows,
                flux.model_versions, flux.forecasts to flux_api;
grant select (user_id, tenant_id, email, role, disabled_at, created_at) on flux.users to flux_api;
grant insert on flux.uploads to flux_api;
"""

# Fail closed: with app.tenant_id unset (NULL) or reset ('') the predicate is NULL, so no row.
TENANT_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"

# Login happens before a tenant is known: one narrow function, run as the owner, returns the
# credentials of one e-mail address and nothing else; only it may read users across tenants.
LOGIN_LOOKUP = """
create policy login_lookup on flux.users for select to flux_owner using (true);
create function flux.login_lookup(p_email text)
returns table (user_id uuid, tenant_id uuid, password_hash text, role text, disabled boolean)
language sql stable security definer set search_path = pg_catalog, flux as $$
  select u.user_id, u.tenant_id, u.password_hash, u.role, u.disabled_at is not null
  from flux.users u where lower(u.email) = lower(p_email)
$$;
revoke all on function flux.login_lookup(text) from public;
grant execute on function flux.login_lookup(text) to flux_api;
"""

# TimescaleDB where it exists (RDS does not have it; Timescale Cloud does); plain tables otherwise.
HYPERTABLES = """
do $$
begin
  if exists (select from pg_available_extensions where name = 'timescaledb') then
    create extension if not exists timescaledb;
    perform create_hypertable('flux.staged_sales', 'date', chunk_time_interval => interval '1 year',
                              migrate_data => true);
  end if;
end $$;
"""


def upgrade() -> None:
    database = op.get_bind().exec_driver_sql("select current_database()").scalar()
    op.execute(ROLES)
    op.execute(SCHEMA.format(database=f'"{database}"'))
    for table in TENANT_TABLES:
        op.execute(f"alter table flux.{table} enable row level security")
        op.execute(f"alter table flux.{table} force row level security")
        op.execute(
            f"create policy tenant_isolation on flux.{table} to flux_api "
            f"using ({TENANT_PREDICATE}) with check ({TENANT_PREDICATE})"
        )
        op.execute(
            f"create policy pipeline_all on flux.{table} to flux_pipeline using (true) with check (true)"
        )
    op.execute(LOGIN_LOOKUP)
    op.execute(HYPERTABLES)


def downgrade() -> None:
    op.execute("drop schema flux cascade")
