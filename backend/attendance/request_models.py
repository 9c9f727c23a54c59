"""What a teacher asks the host school for: leave (请假) and punch corrections (补卡).

Both are created on phones (offline, so their ids are the phone's) or through the API,
and decided by the host school's admin. They are never deleted: a request withdrawn on
the phone is cancelled, and every decision stays on the row.

Overlapping live leave of one teacher is impossible on PostgreSQL (an exclusion
constraint over half-day ordinals, created by the migration); on SQLite the service's
check under the single-writer lock is the guard. One live correction per teacher, day and
punch kind is a partial unique index on both.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.attendance.models import CHECK_IN_KINDS, CLIENT_ID_LENGTH
from backend.audit.trail import Audited
from backend.db import Base, Journaled, TimestampMixin, UTCDateTime, str_enum

REQUEST_STATUSES = ("pending", "approved", "rejected", "cancelled")
LIVE_STATUSES = ("pending", "approved")  # what counts against overlap and caps
HALVES = ("am", "pm")


def half_ordinal(day: date, half: str) -> int:
    """A half-day as one integer, so half-day ranges compare and overlap as integers."""
    return day.toordinal() * 2 + HALVES.index(half)


class _Request(Journaled, TimestampMixin, Audited):
    """Columns every request shares: who, where, the decision, and sync bookkeeping."""

    __tombstones_only__ = True

    id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teachers.id", ondelete="RESTRICT"))
    # The secondment (and its host school) in force on the request's first day.
    secondment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("secondments.id", ondelete="RESTRICT")
    )
    host_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    # Client ids of photos or scans (uploaded through media), e.g. a doctor's note.
    attachment_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(
        str_enum(*REQUEST_STATUSES, name="status"), default="pending"
    )
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(sa.String(1000), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    filed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    device_pk: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="SET NULL")
    )
    # Digest of the client-written columns as last applied (sync's replay check).
    client_digest: Mapped[str] = mapped_column(sa.String(64), default="")


class LeaveRequest(_Request, Base):
    __tablename__ = "leave_requests"
    __table_args__ = (
        sa.CheckConstraint("first_half <= last_half", name="range_order"),
        sa.Index("ix_leave_requests_teacher_range", "teacher_id", "first_half", "last_half"),
    )

    leave_type: Mapped[str] = mapped_column(sa.String(32))
    start_on: Mapped[date]
    start_half: Mapped[str] = mapped_column(str_enum(*HALVES, name="start_half"), default="am")
    end_on: Mapped[date]
    end_half: Mapped[str] = mapped_column(str_enum(*HALVES, name="end_half"), default="pm")
    # half_ordinal(start_on, start_half) .. half_ordinal(end_on, end_half), inclusive.
    first_half: Mapped[int]
    last_half: Mapped[int]

    def payload(self) -> dict[str, Any]:
        return {"leave_type": self.leave_type, "start_on": self.start_on, "end_on": self.end_on}


class PunchCorrection(_Request, Base):
    __tablename__ = "punch_corrections"
    __table_args__ = (
        sa.Index(
            "uq_punch_corrections_live",
            "teacher_id",
            "day",
            "kind",
            unique=True,
            postgresql_where=sa.text("status IN ('pending', 'approved') AND deleted_at IS NULL"),
            sqlite_where=sa.text("status IN ('pending', 'approved') AND deleted_at IS NULL"),
        ),
        sa.Index("ix_punch_corrections_teacher_day", "teacher_id", "day"),
    )

    day: Mapped[date]
    kind: Mapped[str] = mapped_column(str_enum(*CHECK_IN_KINDS, name="kind"))
    # The time the teacher says they arrived or left (stored UTC; asked in China time).
    punched_at: Mapped[datetime] = mapped_column(UTCDateTime())
