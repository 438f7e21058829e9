"""A staged row's upload is checked once per statement, not once per row.

The foreign key ``staged_sales (upload_id, tenant_id) -> uploads`` of 0006 checks every row it
writes: one index probe and one row lock on ``uploads`` per row, more than half of what PostgreSQL
spends loading a small daily file (measured: COPY of the same rows ran 2.5x faster without it).
A load writes hundreds of rows that all name the same few uploads, so the same rule is checked
per statement instead, over the statement's rows at once (triggers with transition tables):

- inserting or updating staged rows whose (upload_id, tenant_id) is not an upload fails with
  SQLSTATE 23503 (foreign_key_violation), as the key did; the uploads they name are locked
  ``FOR KEY SHARE`` until commit, as the key's check locks them, so a concurrent delete waits;
- deleting uploads (as deleting their tenant does) deletes their staged rows, as ``on delete
  cascade`` did;
- an upload's ids cannot change (nothing changes them; the key would have refused it while rows
  referenced them).

The functions run as the caller: the pipeline, the only role that writes staged rows, sees every
upload through its ``pipeline_all`` policy.

Where TimescaleDB made ``staged_sales`` a hypertable (0001), the foreign key stays: hypertables
do not take triggers with transition tables.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATEMENT_KEY = """
do $$
begin
  if exists (select from pg_extension where extname = 'timescaledb') then
    return;  -- hypertables refuse transition tables: the foreign key of 0006 stays
  end if;

  create function flux.staged_sales_uploads_exist() returns trigger
  language plpgsql security invoker set search_path = pg_catalog, flux as $f$
  declare
    wanted bigint;
    locked bigint;
    missing record;
  begin
    -- The statement's uploads, counted and locked in one pass (count reads every one of them).
    with named as (select distinct upload_id, tenant_id from staged)
    select (select count(*) from named),
           (select count(*) from (
              select from flux.uploads u
              join named n on n.upload_id = u.upload_id and n.tenant_id = u.tenant_id
              for key share of u) as l)
    into wanted, locked;
    if locked < wanted then
      select s.upload_id, s.tenant_id into missing
      from staged s
      where not exists (
        select from flux.uploads u where u.upload_id = s.upload_id and u.tenant_id = s.tenant_id
      )
      limit 1;
      raise foreign_key_violation using
        message = format('staged rows name upload %s of tenant %s, which is not an upload',
                         missing.upload_id, missing.tenant_id),
        table = 'staged_sales', constraint = 'staged_sales_upload_exists';
    end if;
    return null;
  end $f$;

  create function flux.uploads_delete_staged_sales() returns trigger
  language plpgsql security invoker set search_path = pg_catalog, flux as $f$
  begin
    delete from flux.staged_sales s using removed r
    where s.tenant_id = r.tenant_id and s.upload_id = r.upload_id;
    return null;
  end $f$;

  create function flux.uploads_keep_their_ids() returns trigger
  language plpgsql security invoker set search_path = pg_catalog, flux as $f$
  begin
    raise foreign_key_violation using
      message = 'an upload''s upload_id and tenant_id never change',
      table = 'uploads', constraint = 'staged_sales_upload_exists';
  end $f$;

  alter table flux.staged_sales drop constraint staged_sales_upload_fkey;
  create trigger staged_sales_upload_exists_on_insert after insert on flux.staged_sales
    referencing new table as staged for each statement
    execute function flux.staged_sales_uploads_exist();
  create trigger staged_sales_upload_exists_on_update after update on flux.staged_sales
    referencing new table as staged for each statement
    execute function flux.staged_sales_uploads_exist();
  create trigger uploads_delete_staged_sales after delete on flux.uploads
    referencing old table as removed for each statement
    execute function flux.uploads_delete_staged_sales();
  create trigger uploads_keep_their_ids before update of upload_id, tenant_id on flux.uploads
    for each row
    when (old.upload_id is distinct from new.upload_id or old.tenant_id is distinct from new.tenant_id)
    execute function flux.uploads_keep_their_ids();
end $$;
"""

ROW_KEY = """
do $$
begin
  if not exists (select from pg_trigger where tgname = 'staged_sales_upload_exists_on_insert') then
    return;
  end if;
  drop trigger uploads_keep_their_ids on flux.uploads;
  drop trigger uploads_delete_staged_sales on flux.uploads;
  drop trigger staged_sales_upload_exists_on_update on flux.staged_sales;
  drop trigger staged_sales_upload_exists_on_insert on flux.staged_sales;
  drop function flux.uploads_keep_their_ids();
  drop function flux.uploads_delete_staged_sales();
  drop function flux.staged_sales_uploads_exist();
  alter table flux.staged_sales
    add constraint staged_sales_upload_fkey foreign key (upload_id, tenant_id)
      references flux.uploads (upload_id, tenant_id) on delete cascade;
end $$;
"""


def upgrade() -> None:
    op.execute(STATEMENT_KEY)


def downgrade() -> None:
    op.execute(ROW_KEY)
