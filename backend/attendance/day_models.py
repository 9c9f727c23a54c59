"""Derived attendance: one row per seconded teacher per day, its history, and the month's
assessment.

A :class:`TeacherDay` is never edited by hand: ``daybook.recompute`` derives it from the
day's punches, approved corrections and leave, the calendar and the rules, and writes a
:class:`TeacherDayChange` whenever the verdict changes, saying what changed and why.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, Journaled, TimestampMixin, UTCDateTime, str_enum

DAY_STATUSES = (
    "present",
    "late",
    "early_leave",
    "late_and_early_leave",
    "half_day",
    "absent",
    "on_leave",
    "official_duty",
    "non_workday",
    # The holiday notice for the day's year is not published yet: nothing can be judged.
    "calendar_unpublished",
)
# Statuses of a day at work, and of days that are not workdays at all: how a month counts
# (the teacher's month view and the monthly report's tally share them).
AT_WORK = ("present", "late", "early_leave", "late_and_early_leave")
NOT_WORKDAYS = ("non_workday", "calendar_unpublished")
GRADES = ("excellent", "good", "pass", "fail")  # 优秀 良好 合格 不合格
# 德、能、勤、绩、学、廉
DIMENSIONS = ("morality", "ability", "diligence", "achievement", "learning", "integrity")
# The columns of a teacher day that the monthly report's tally reads (beside its key).
TALLIED_COLUMNS = (
    "teacher_id",
    "status",
    "leave_halves",
    "duty_halves",
    "open_flags",
    "deleted_at",
)


class TeacherDay(IdMixin, Journaled, TimestampMixin, Base):
    __tablename__ = "teacher_days"
    __table_args__ = (
        sa.UniqueConstraint("teacher_id", "day"),
        # A host school's days (the board, the flag queue, the month's tally). On
        # PostgreSQL it carries what the monthly tally sums, so the month end reads this
        # index alone (an index-only scan) instead of the wide rows with their explanations.
        sa.Index(
            "ix_teacher_days_host_day",
            "host_school_id",
            "day",
            postgresql_include=[*TALLIED_COLUMNS],
        ),
        # Leave days are a few in a hundred: the tally's leave-by-type reads only them.
        sa.Index(
            "ix_teacher_days_host_leave",
            "host_school_id",
            "day",
            postgresql_where=sa.text("leave_halves > 0"),
            sqlite_where=sa.text("leave_halves > 0"),
        ),
    )

    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teachers.id", ondelete="RESTRICT"))
    day: Mapped[date]
    secondment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("secondments.id", ondelete="RESTRICT"), index=True
    )
    host_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(str_enum(*DAY_STATUSES, name="status"))
    day_kind: Mapped[str] = mapped_column(sa.String(24))
    day_name: Mapped[str] = mapped_column(sa.String(100), default="")
    leave_type: Mapped[str | None] = mapped_column(sa.String(32))
    leave_halves: Mapped[int] = mapped_column(default=0, doc="0, 1 or 2 half days of leave")
    duty_halves: Mapped[int] = mapped_column(default=0, doc="half days of official duty")
    in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    late_minutes: Mapped[int] = mapped_column(default=0)
    early_minutes: Mapped[int] = mapped_column(default=0)
    attended_minutes: Mapped[int] = mapped_column(default=0)
    corrections_applied: Mapped[int] = mapped_column(default=0)
    open_flags: Mapped[int] = mapped_column(default=0)
    # Why the status is what it is: [{code, reason}], in words an admin or teacher reads.
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    inputs_digest: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(default=1)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeacherDayChange(IdMixin, Base):
    """One recomputation that changed a day: before, after, and what caused it."""

    __tablename__ = "teacher_day_changes"
    __table_args__ = (sa.UniqueConstraint("teacher_day_id", "version"),)

    teacher_day_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("teacher_days.id", ondelete="RESTRICT")
    )
    version: Mapped[int]
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cause: Mapped[str] = mapped_column(sa.String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class MonthlyAssessment(IdMixin, TimestampMixin, Base):
    """月考核: the host school's grade of a seconded teacher for one month."""

    __tablename__ = "monthly_assessments"
    __table_args__ = (
        sa.UniqueConstraint("teacher_id", "host_school_id", "month"),
        sa.Index("ix_monthly_assessments_school_month", "host_school_id", "month"),
    )

    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teachers.id", ondelete="RESTRICT"))
    host_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    secondment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("secondments.id", ondelete="RESTRICT")
    )
    month: Mapped[date] = mapped_column(doc="the first day of the month assessed")
    grade: Mapped[str] = mapped_column(str_enum(*GRADES, name="grade"))
    # Optional grade per dimension: {"morality": "good", ...}.
    dimensions: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    comment: Mapped[str] = mapped_column(sa.String(2000), default="")
    assessed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    revision: Mapped[int] = mapped_column(default=1)
