"""The schema the migrations build: roles, forced RLS, fail-closed tenancy."""

import datetime as dt
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.dialects.postgresql import insert as pg_insert

from flux_core.db.connections import plain_url, role_url
from flux_core.db.migrate import alembic_config
from flux_core.db.tables import staged_sales, tenants, uploads
from flux_core.settings import FluxSettings


def test_api_role_cannot_bypass_rls(api_engine: sa.Engine) -> None:
    with api_engine.connect() as conn:
        row = conn.execute(
            sa.text("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
        ).one()
        owns = conn.execute(
            sa.text("select count(*) from pg_tables where tableowner = current_user")
        ).scalar_one()
    assert (row.rolsuper, row.rolbypassrls, owns) == (False, False, 0)


def test_every_tenant_table_forces_rls(pipeline_engine: sa.Engine) -> None:
    with pipeline_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace "
                "join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' "
                "where n.nspname = 'flux' and c.relkind in ('r', 'p')"
            )
        ).all()
    assert {r.relname for r in rows} >= {"tenants", "users", "uploads", "staged_sales", "forecasts"}
    assert [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)] == []


def _count_as_api(api_engine: sa.Engine, table: sa.Table, tenant: uuid.UUID | None) -> int:
    with api_engine.begin() as conn:
        if tenant is not None:
            conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(tenant), True)))
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_rls_scopes_reads_and_fails_closed(api_engine: sa.Engine, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("A"), make_tenant("B")
    assert _count_as_api(api_engine, tenants, a) == 1
    assert _count_as_api(api_engine, tenants, b) == 1
    assert _count_as_api(api_engine, tenants, None) == 0
    with api_engine.begin() as conn:
        conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(a), True)))
        assert conn.execute(sa.select(tenants.c.tenant_id)).scalars().all() == [a]
    # After the transaction the setting is reset to '' on the pooled connection: still nothing.
    assert _count_as_api(api_engine, tenants, None) == 0


def test_writing_another_tenants_row_is_refused(api_engine: sa.Engine, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant(), make_tenant()
    upload_id = uuid.uuid4()
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        with api_engine.begin() as conn:
            conn.execute(sa.select(sa.func.set_config("app.tenant_id", str(a), True)))
            conn.execute(
                sa.insert(uploads).values(
                    upload_id=upload_id,
                    tenant_id=b,
                    object_key=f"uploads/tenant={b}/{upload_id}.csv",
                    filename="x.csv",
                )
            )


def _upload(conn: sa.Connection, tenant: uuid.UUID) -> uuid.UUID:
    upload = uuid.uuid4()
    conn.execute(
        sa.insert(uploads).values(
            upload_id=upload, tenant_id=tenant, object_key=f"test/{upload}", filename="a.csv"
        )
    )
    return upload


def _staged_count(engine: sa.Engine, tenant: uuid.UUID) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(staged_sales)
            .where(staged_sales.c.tenant_id == tenant)
        ).scalar_one()


def test_a_staged_row_belongs_to_its_uploads_tenant_and_goes_with_it(
    pipeline_engine: sa.Engine,
    make_tenant,  # type: ignore[no-untyped-def]
) -> None:
    """The key of 0006, checked per statement since 0007: every way of breaking it is refused."""
    mine, other = make_tenant(), make_tenant()
    with pipeline_engine.begin() as conn:
        upload = _upload(conn, mine)
    row = {"metric": "sales", "date": dt.date(2025, 1, 1), "value": 10, "upload_id": upload}
    with pipeline_engine.begin() as conn:
        conn.execute(sa.insert(staged_sales).values(tenant_id=mine, **row))
    day2 = {**row, "date": dt.date(2025, 1, 2)}
    breaking = [
        # another tenant's row claiming this upload; a row naming an upload that is not there
        sa.insert(staged_sales).values(tenant_id=other, **day2),
        sa.insert(staged_sales).values(tenant_id=mine, **{**day2, "upload_id": uuid.uuid4()}),
        # the same through many rows at once, one of them bad
        sa.insert(staged_sales).values(
            [
                {"tenant_id": mine, **day2},
                {
                    "tenant_id": mine,
                    **{**row, "date": dt.date(2025, 1, 3), "upload_id": uuid.uuid4()},
                },
            ]
        ),
        # a correction (the loader's upsert) pointing the row at an upload that is not there
        pg_insert(staged_sales)
        .values(tenant_id=mine, **{**row, "upload_id": uuid.uuid4()})
        .on_conflict_do_update(
            index_elements=["tenant_id", "metric", "date"],
            set_={"upload_id": pg_insert(staged_sales).excluded.upload_id},
        ),
        sa.update(staged_sales).where(staged_sales.c.tenant_id == mine).values(tenant_id=other),
        # an upload moved to another tenant under its rows
        sa.update(uploads).where(uploads.c.upload_id == upload).values(tenant_id=other),
    ]
    for statement in breaking:
        with pytest.raises(sa.exc.IntegrityError), pipeline_engine.begin() as conn:
            conn.execute(statement)
    assert _staged_count(pipeline_engine, mine) == 1
    # Removing the upload (as removing its tenant does) removes its staged rows, and only those.
    with pipeline_engine.begin() as conn:
        second = _upload(conn, mine)
        conn.execute(
            sa.insert(staged_sales).values(tenant_id=mine, **{**day2, "upload_id": second})
        )
    with pipeline_engine.begin() as conn:
        conn.execute(sa.delete(uploads).where(uploads.c.upload_id == upload))
    assert _staged_count(pipeline_engine, mine) == 1
    with pipeline_engine.begin() as conn:
        conn.execute(sa.delete(tenants).where(tenants.c.tenant_id == mine))
    assert _staged_count(pipeline_engine, mine) == 0


def test_item_sales_move_to_day_rows_and_back(settings: FluxSettings) -> None:
    """0008 turns the per-item rows of 0004 into one row per day and its downgrade turns them
    back, losing nothing (in a database of its own, migrated step by step)."""
    name = f"{role_url(settings, 'owner').database}_items"
    owner = plain_url(role_url(settings, "owner"))
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}" owner flux_owner')
    scratch = settings.model_copy(update={"database_url": owner.rsplit("/", 1)[0] + f"/{name}"})
    config = alembic_config(scratch)
    tenant, upload = uuid.uuid4(), uuid.uuid4()
    rows = {
        (dt.date(2025, 1, 1), "Naan", 2, 5.2),
        (dt.date(2025, 1, 1), "Rice, pilau", 1, None),
        (dt.date(2025, 1, 2), "Naan", 3, 7.8),
    }
    long_insert = (
        "insert into flux.staged_item_sales (tenant_id, date, item, quantity, revenue, upload_id) "
        "values (%s, %s, %s, %s, %s, %s)"
    )
    unnested = (
        "select d.date, i.item, i.quantity::float, i.revenue::float from flux.staged_item_sales d, "
        "unnest(d.items, d.quantities, d.revenues) as i(item, quantity, revenue)"
    )
    try:
        command.upgrade(config, "0007")
        scratch_url = plain_url(role_url(scratch, "pipeline"))
        with psycopg.connect(scratch_url) as conn:
            conn.execute("insert into flux.tenants (tenant_id, name) values (%s, 'a')", (tenant,))
            for row in rows:
                conn.execute(long_insert, (tenant, *row[:2], row[2], row[3], upload))
        command.upgrade(config, "0008")
        with psycopg.connect(scratch_url) as conn:
            assert set(conn.execute(unnested).fetchall()) == rows
            assert conn.execute("select count(*) from flux.staged_item_sales").fetchone() == (2,)
        command.downgrade(config, "0007")
        with psycopg.connect(scratch_url) as conn:
            back = conn.execute(
                "select date, item, quantity::float, revenue::float from flux.staged_item_sales"
            ).fetchall()
        assert set(back) == rows
    finally:
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def test_staging_rows_lock_their_upload_until_commit(
    pipeline_engine: sa.Engine,
    make_tenant,  # type: ignore[no-untyped-def]
) -> None:
    """As the foreign key did: while a load that staged rows is open, their upload cannot be
    deleted under it (the delete waits; here it gives up after its lock timeout)."""
    tenant = make_tenant()
    with pipeline_engine.begin() as conn:
        upload = _upload(conn, tenant)
    row = {"metric": "sales", "date": dt.date(2025, 1, 1), "value": 1, "upload_id": upload}
    with pipeline_engine.connect() as loading, pipeline_engine.connect() as deleting:
        loading.execute(sa.insert(staged_sales).values(tenant_id=tenant, **row))  # not committed
        deleting.execute(sa.text("set lock_timeout = '300ms'"))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            deleting.execute(sa.delete(uploads).where(uploads.c.upload_id == upload))
        deleting.rollback()
        loading.commit()
    assert _staged_count(pipeline_engine, tenant) == 1
