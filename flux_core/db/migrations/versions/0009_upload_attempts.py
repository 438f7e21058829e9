"""Uploads count their load attempts and may end as ``failed``.

A load that fails for a reason outside the file (the database or the landing zone gone) is tried
again; ``attempts`` counts the tries that failed, ``error`` keeps the last reason, and once the
attempts are spent the upload is ``failed``: settled, so it no longer holds its tenant's later
uploads back, and an operator can send it again (``flux uploads retry``). A file that cannot be
read is ``rejected`` at its first try and never retried.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STATUSES = "('received', 'processing', 'loaded', 'rejected', 'duplicate', 'failed')"
OLD_STATUSES = "('received', 'processing', 'loaded', 'rejected', 'duplicate')"


def upgrade() -> None:
    op.execute("alter table flux.uploads add column attempts integer not null default 0")
    op.execute("alter table flux.uploads drop constraint uploads_status_check")
    op.execute(
        f"alter table flux.uploads add constraint uploads_status_check check (status in {STATUSES})"
    )
    # The health check looks for uploads not settled after an hour: pending ones are few.
    op.execute(
        "create index uploads_pending_idx on flux.uploads (received_at) "
        "where status not in ('loaded', 'rejected', 'duplicate', 'failed')"
    )


def downgrade() -> None:
    op.execute("drop index flux.uploads_pending_idx")
    op.execute("update flux.uploads set status = 'received' where status = 'failed'")
    op.execute("alter table flux.uploads drop constraint uploads_status_check")
    op.execute(
        f"alter table flux.uploads add constraint uploads_status_check check (status in {OLD_STATUSES})"
    )
    op.execute("alter table flux.uploads drop column attempts")
