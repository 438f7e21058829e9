"""One foreign key from a staged row to its upload, carrying the tenant: cheaper and stricter.

``staged_sales`` had two per-row foreign keys (to ``tenants`` and to ``uploads``): two index
probes for every row loaded, about a third of a small upload's load time. One composite key to
``uploads (upload_id, tenant_id)`` replaces both and says more: a staged row's tenant is its
upload's tenant. A tenant's deletion still reaches its staged rows, through its uploads.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        alter table flux.uploads
          add constraint uploads_upload_tenant_key unique (upload_id, tenant_id);
        alter table flux.staged_sales
          drop constraint staged_sales_tenant_id_fkey,
          drop constraint staged_sales_upload_id_fkey,
          add constraint staged_sales_upload_fkey foreign key (upload_id, tenant_id)
            references flux.uploads (upload_id, tenant_id) on delete cascade;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        alter table flux.staged_sales
          drop constraint staged_sales_upload_fkey,
          add constraint staged_sales_tenant_id_fkey foreign key (tenant_id)
            references flux.tenants on delete cascade,
          add constraint staged_sales_upload_id_fkey foreign key (upload_id)
            references flux.uploads on delete cascade;
        alter table flux.uploads drop constraint uploads_upload_tenant_key;
        """
    )
