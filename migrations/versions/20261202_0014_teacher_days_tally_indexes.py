"""Teacher days: the host school index covers what the monthly tally sums (index-only
scans on PostgreSQL), and a partial index finds leave days.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TALLIED = ["teacher_id", "status", "leave_halves", "duty_halves", "open_flags", "deleted_at"]


def upgrade() -> None:
    op.drop_index("ix_teacher_days_host_day", table_name="teacher_days")
    op.create_index(
        "ix_teacher_days_host_day",
        "teacher_days",
        ["host_school_id", "day"],
        postgresql_include=TALLIED,
    )
    op.create_index(
        "ix_teacher_days_host_leave",
        "teacher_days",
        ["host_school_id", "day"],
        postgresql_where=sa.text("leave_halves > 0"),
        sqlite_where=sa.text("leave_halves > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_teacher_days_host_leave", table_name="teacher_days")
    op.drop_index("ix_teacher_days_host_day", table_name="teacher_days")
    op.create_index("ix_teacher_days_host_day", "teacher_days", ["host_school_id", "day"])
