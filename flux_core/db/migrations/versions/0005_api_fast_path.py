"""The API's request prologue in one statement: enter the token's tenant, re-check its user.

``flux.enter_tenant(tenant, user, role)`` sets ``app.tenant_id`` for the current transaction (as
``set_config(..., true)`` did) and then, in a statement of its own (so under the tenant just set),
looks the user up through the ``tenant_isolation`` policy of 0001: a user who is disabled, whose
role changed, or who is not in that tenant makes it raise SQLSTATE 28000 (invalid authorization),
which aborts the transaction, so nothing more runs in it. It runs as the caller (SECURITY INVOKER):
row-level security stays the only tenant filter. One round trip instead of two on every request.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ENTER_TENANT = """
create function flux.enter_tenant(p_tenant_id uuid, p_user_id uuid, p_role text)
returns void
language plpgsql volatile security invoker as $$
begin
  perform pg_catalog.set_config('app.tenant_id', p_tenant_id::text, true);
  perform from flux.users u
  where u.user_id = p_user_id and u.role = p_role and u.disabled_at is null;
  if not found then
    raise exception 'the user is not active in this tenant' using errcode = '28000';
  end if;
end
$$;
revoke all on function flux.enter_tenant(uuid, uuid, text) from public;
grant execute on function flux.enter_tenant(uuid, uuid, text) to flux_api;
"""


def upgrade() -> None:
    op.execute(ENTER_TENANT)


def downgrade() -> None:
    op.execute("drop function flux.enter_tenant(uuid, uuid, text)")
