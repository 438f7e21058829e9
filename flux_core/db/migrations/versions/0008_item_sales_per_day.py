"""Item sales kept as one row per tenant and day, the day's items in arrays.

0004 kept one row per (tenant, item, day): a three-year export of 240 items is 262,800 rows, and
writing them (heap, primary key, day index, a foreign key per row) was two thirds of loading the
export, four times the cost of COPY-ing the file's lines. A day is what a correction replaces and
what an item-level forecast reads, so the day is the row: ``items`` names the items sold, and
``quantities`` and ``revenues`` hold, at the same positions, what each sold. The same export is
1,095 rows, written in a tenth of the time, in a fifth of the space (TOAST compresses the names).

Each day's arrays are checked as the old rows were: as many quantities and revenues as items,
each item named once (1 to 500 characters), quantities present and not negative, revenues not
negative (NULL when the export has no prices). ``analytics.stg_uploads__item_sales`` (dbt) gives
the rows back one per item and day.

Existing rows are moved over; the downgrade moves them back.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TENANT_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"

ITEM_DAYS = """
create function flux.item_names_are_a_set(names text[]) returns boolean
language sql immutable parallel safe set search_path = pg_catalog as $$
  select coalesce(bool_and(name is not null and length(name) between 1 and 500), false)
     and count(distinct name) = count(*)
  from unnest(names) as name
$$;

alter table flux.staged_item_sales rename to staged_item_sales_0004;
-- The owner moves the rows: forced RLS is lifted on the table that goes, so that none is hidden
-- from it, whatever policies apply to it.
alter table flux.staged_item_sales_0004 no force row level security;

create table flux.staged_item_sales (
  tenant_id  uuid not null references flux.tenants on delete cascade,
  date       date not null,
  items      text[] not null check (flux.item_names_are_a_set(items)),
  quantities numeric(14, 3)[] not null
             check (array_position(quantities, null) is null and 0 <= all (quantities)),
  revenues   numeric(14, 2)[] not null check (0 <= all (revenues)),
  upload_id  uuid not null,
  loaded_at  timestamptz not null default now(),
  primary key (tenant_id, date),
  check (array_ndims(items) = 1
         and cardinality(quantities) = cardinality(items)
         and cardinality(revenues) = cardinality(items))
);
grant select, insert, update, delete on flux.staged_item_sales to flux_pipeline;
grant select on flux.staged_item_sales to flux_api;

insert into flux.staged_item_sales (tenant_id, date, items, quantities, revenues, upload_id, loaded_at)
select tenant_id, date, array_agg(item order by item), array_agg(quantity order by item),
       array_agg(revenue order by item), (array_agg(upload_id))[1], max(loaded_at)
from flux.staged_item_sales_0004
group by tenant_id, date;

drop table flux.staged_item_sales_0004;
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

ITEM_ROWS = """
alter table flux.staged_item_sales rename to staged_item_sales_0008;
alter table flux.staged_item_sales_0008 no force row level security;

create table flux.staged_item_sales (
  tenant_id uuid not null references flux.tenants on delete cascade,
  date      date not null,
  item      text not null check (length(item) between 1 and 500),
  quantity  numeric(14, 3) not null check (quantity >= 0),
  revenue   numeric(14, 2) check (revenue >= 0),
  upload_id uuid not null,
  loaded_at timestamptz not null default now(),
  primary key (tenant_id, item, date)
);
create index staged_item_sales_day_idx on flux.staged_item_sales (tenant_id, date);
grant select, insert, update, delete on flux.staged_item_sales to flux_pipeline;
grant select on flux.staged_item_sales to flux_api;

insert into flux.staged_item_sales (tenant_id, date, item, quantity, revenue, upload_id, loaded_at)
select d.tenant_id, d.date, i.item, i.quantity, i.revenue, d.upload_id, d.loaded_at
from flux.staged_item_sales_0008 d
cross join lateral unnest(d.items, d.quantities, d.revenues) as i(item, quantity, revenue);

drop table flux.staged_item_sales_0008;
drop function flux.item_names_are_a_set(text[]);
"""


def _tenant_owned() -> None:
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


def upgrade() -> None:
    op.execute(ITEM_DAYS)
    _tenant_owned()
    op.execute(HYPERTABLE)


def downgrade() -> None:
    op.execute(ITEM_ROWS)
    _tenant_owned()
    op.execute(HYPERTABLE)
