"""Item sales per day, corrections in the upload history, explicit column mappings and warnings.

``flux.staged_item_sales`` keeps what line-item exports sold per item and day (for item-level
forecasts later), tenant-owned with forced RLS like every table of 0001. ``flux.uploads`` gains
what a correction replaced (``days_replaced``, ``replaced_uploads``), the column mapping the
upload was sent with, and the parser's warnings (outliers, how an ambiguous date was read).

Revision ID: 0004
Revises: 0002
"""

from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

# Fail closed, as in 0001: no tenant set, no row.
TENANT_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"

ITEM_SALES = """
create table flux.staged_item_sales (
  tenant_id uuid not null references flux.tenants on delete cascade,
  date      date not null,
  item      text not null check (length(item) between 1 and 500),
  quantity  numeric(14, 3) not null check (quantity >= 0),
  revenue   numeric(14, 2) check (revenue >= 0),
  -- No foreign key to uploads: a check per row doubles the cost of loading a large export, and
  -- uploads are only ever deleted with their tenant (whose key cascades here).
  upload_id uuid not null,
  loaded_at timestamptz not null default now(),
  primary key (tenant_id, item, date)
);
-- Corrections replace whole days: find a tenant's rows of a day without scanning its items.
create index staged_item_sales_day_idx on flux.staged_item_sales (tenant_id, date);
grant select, insert, update, delete on flux.staged_item_sales to flux_pipeline;
grant select on flux.staged_item_sales to flux_api;

alter table flux.uploads
  add column days_replaced    integer check (days_replaced >= 0),
  add column replaced_uploads uuid[] not null default '{}',
  add column column_mapping   jsonb check (jsonb_typeof(column_mapping) = 'object'),
  add column warnings         jsonb not null default '[]' check (jsonb_typeof(warnings) = 'array');
"""

HYPERTABLE = """
do $$
begin
  if exists (select from pg_extension where extname = 'timescaledb') then
    perform create_hypertable('flux.staged_item_sales', 'date',
                              chunk_time_interval => interval '1 year', migrate_data => true);
  end if;
end $$;
"""


def upgrade() -> None:
    op.execute(ITEM_SALES)
    op.execute("alter table flux.staged_item_sales enable row level security")
    op.execute("alter table flux.staged_item_sales force row level security")
    op.execute(
        "create policy tenant_isolation on flux.staged_item_sales to flux_api "
        f"using ({TENANT_PREDICATE}) with check ({TENANT_PREDICATE})"
    )
    op.execute(
        "create policy pipeline_all on flux.staged_item_sales to flux_pipeline "
        "using (true) with check (true)"
    )
    op.execute(HYPERTABLE)


def downgrade() -> None:
    op.execute(
        "alter table flux.uploads drop column warnings, drop column column_mapping, "
        "drop column replaced_uploads, drop column days_replaced"
    )
    op.execute("drop table flux.staged_item_sales")
