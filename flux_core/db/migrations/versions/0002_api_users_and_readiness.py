"""What the API needs beyond reading: manage its tenant's users, and see the schema's revision.

``flux_api`` may insert and update users, column by column, and only through the
``tenant_isolation`` policy of 0001 (so only its tenant's users); it can write a password hash but
never read one (the select grant of 0001 leaves ``password_hash`` out). ``/readyz`` compares
``alembic_version`` with the code's head revision.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("grant insert (tenant_id, email, password_hash, role) on flux.users to flux_api")
    op.execute("grant update (role, disabled_at, password_hash) on flux.users to flux_api")
    op.execute("grant select on public.alembic_version to flux_api")


def downgrade() -> None:
    op.execute("revoke select on public.alembic_version from flux_api")
    op.execute("revoke update (role, disabled_at, password_hash) on flux.users from flux_api")
    op.execute("revoke insert (tenant_id, email, password_hash, role) on flux.users from flux_api")
