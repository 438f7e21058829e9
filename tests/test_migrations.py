"""The schema the migrations build: roles, forced RLS, fail-closed tenancy."""

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from flux_pipelines.db.tables import staged_sales, tenants, uploads


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


def test_a_staged_row_belongs_to_its_uploads_tenant_and_goes_with_it(
    pipeline_engine: sa.Engine,
    make_tenant,  # type: ignore[no-untyped-def]
) -> None:
    mine, other = make_tenant(), make_tenant()
    upload = uuid.uuid4()
    row = {"metric": "sales", "date": dt.date(2025, 1, 1), "value": 10, "upload_id": upload}
    with pipeline_engine.begin() as conn:
        conn.execute(
            sa.insert(uploads).values(
                upload_id=upload, tenant_id=mine, object_key=f"test/{upload}", filename="a.csv"
            )
        )
        conn.execute(sa.insert(staged_sales).values(tenant_id=mine, **row))
    # Another tenant's row cannot claim this upload, nor can a row name an upload that is not there.
    for tenant, values in ((other, row), (mine, {**row, "upload_id": uuid.uuid4()})):
        with pytest.raises(sa.exc.IntegrityError), pipeline_engine.begin() as conn:
            conn.execute(
                sa.insert(staged_sales).values(
                    tenant_id=tenant, **{**values, "date": dt.date(2025, 1, 2)}
                )
            )
    # Removing the upload (as removing its tenant does) removes its staged rows.
    with pipeline_engine.begin() as conn:
        conn.execute(sa.delete(uploads).where(uploads.c.upload_id == upload))
        left = conn.execute(
            sa.select(sa.func.count())
            .select_from(staged_sales)
            .where(staged_sales.c.tenant_id == mine)
        ).scalar_one()
    assert left == 0
