"""secondment overlap guard

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:47:30.736782
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """003 §四(三): one teacher, one secondment at a time — enforced by PostgreSQL itself.

    Cancelled secondments do not count. SQLite has no exclusion constraints; there the
    service's check (under SQLite's single-writer lock) is the guard.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "ALTER TABLE secondments ADD CONSTRAINT ex_secondments_no_overlap "
        "EXCLUDE USING gist (teacher_id WITH =, daterange(start_on, end_on, '[]') WITH &&) "
        "WHERE (status = 'active')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE secondments DROP CONSTRAINT ex_secondments_no_overlap")
