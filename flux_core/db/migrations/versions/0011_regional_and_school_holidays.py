"""Holidays by region, and school holidays.

- ``flux.tenants.subdivision``: the tenant's region (ISO 3166-2 code less the country: a US
  state, a German Land), null for the country as a whole.
- ``flux.public_holidays`` keeps one calendar per (country, subdivision, category): subdivision
  ``''`` is the country-wide one, and a region's calendar holds the national days too; category
  is ``public`` or ``school`` (where the ``holidays`` package has them).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "alter table flux.tenants add column subdivision text "
        "check (subdivision ~ '^[A-Z0-9]{1,4}$')"
    )
    op.execute(
        "alter table flux.public_holidays "
        "add column subdivision text not null default '', "
        "add column category text not null default 'public' "
        "check (category in ('public', 'school'))"
    )
    op.execute("alter table flux.public_holidays drop constraint public_holidays_pkey")
    op.execute(
        "alter table flux.public_holidays add primary key (country, subdivision, category, date)"
    )


def downgrade() -> None:
    op.execute("delete from flux.public_holidays where subdivision <> '' or category <> 'public'")
    op.execute("alter table flux.public_holidays drop constraint public_holidays_pkey")
    op.execute("alter table flux.public_holidays drop column subdivision, drop column category")
    op.execute("alter table flux.public_holidays add primary key (country, date)")
    op.execute("alter table flux.tenants drop column subdivision")
