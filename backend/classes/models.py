"""Synchronized classes (同步课堂): the community's joint timetable (一张表, 000 §三(四)) and
the class report form (课堂信息汇报表, 003 §四(四)) filed for every session taught.

A session record is made on the lead teacher's phone, often offline, and synced (its id is
the phone's). It names the lead classroom and every receiving class with its student
count, and carries photos from the lead classroom and from each receiving classroom, and
the post-class discussion record. A session missing any of these is *incomplete* — the
server says what is missing — and an incomplete session does not count towards the score.
Sessions are evidence: a bureau reviewer verifies or rejects them (``backend.review``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.attendance.models import CLIENT_ID_LENGTH
from backend.audit.trail import Audited
from backend.db import Base, IdMixin, Journaled, TimestampMixin, UTCDateTime, str_enum
from backend.review import Reviewed

TERMS = (1, 2)  # 上学期 (autumn, September–January), 下学期 (spring, February–August)
CONNECTION_QUALITIES = ("good", "fair", "poor", "failed")


class TimetableEntry(IdMixin, Journaled, TimestampMixin, Base):
    """One line of the joint timetable: a subject taught live from a lead school to
    receiving classes at member schools, on a weekly slot or on listed dates."""

    __tablename__ = "timetable_entries"
    __table_args__ = (
        sa.CheckConstraint("term IN (1, 2)", name="term"),
        sa.CheckConstraint("weekday IS NULL OR weekday BETWEEN 1 AND 7", name="weekday"),
        sa.Index("ix_timetable_entries_community_year", "community_id", "school_year", "term"),
    )

    community_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT")
    )
    school_year: Mapped[int] = mapped_column(doc="the year the school year starts (2026: 2026–27)")
    term: Mapped[int]
    subject: Mapped[str] = mapped_column(sa.String(50))
    lead_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    lead_teacher_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("teachers.id", ondelete="RESTRICT")
    )
    lead_class_name: Mapped[str] = mapped_column(sa.String(50), default="")
    # [{school_id, class_name}]: the receiving classes at member schools.
    receivers: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    weekday: Mapped[int | None] = mapped_column(doc="1 = Monday … 7 = Sunday")
    period: Mapped[str] = mapped_column(sa.String(50), default="", doc="e.g. 第3节, 10:00")
    dates: Mapped[list[str]] = mapped_column(sa.JSON, default=list, doc="ISO dates, if listed")
    note: Mapped[str] = mapped_column(sa.String(1000), default="")


class ClassSession(Journaled, TimestampMixin, Reviewed, Audited, Base):
    """A class report form (课堂信息汇报表) for one session of a synchronized class."""

    __tablename__ = "class_sessions"
    __tombstones_only__ = True  # evidence: withdrawn, never destroyed
    __table_args__ = (
        sa.CheckConstraint("duration_minutes BETWEEN 1 AND 600", name="duration"),
        sa.Index("ix_class_sessions_community_day", "community_id", "day"),
        # One live form per lesson of the timetable and day: filed twice (phone and
        # browser), a lesson would count twice towards the score.
        sa.Index(
            "uq_class_sessions_lesson",
            "timetable_entry_id",
            "day",
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL AND timetable_entry_id IS NOT NULL"),
            sqlite_where=sa.text("deleted_at IS NULL AND timetable_entry_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT")
    )
    timetable_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("timetable_entries.id", ondelete="RESTRICT")
    )
    day: Mapped[date]
    subject: Mapped[str] = mapped_column(sa.String(50))
    topic: Mapped[str] = mapped_column(sa.String(200))
    lead_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    lead_teacher_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("teachers.id", ondelete="RESTRICT")
    )
    lead_class_name: Mapped[str] = mapped_column(sa.String(50), default="")
    lead_student_count: Mapped[int | None]
    duration_minutes: Mapped[int]
    connection_quality: Mapped[str] = mapped_column(
        str_enum(*CONNECTION_QUALITIES, name="connection_quality")
    )
    problems: Mapped[str] = mapped_column(sa.String(2000), default="")
    # The post-class discussion (课后研讨) record.
    discussion: Mapped[str] = mapped_column(sa.String(4000), default="")
    # [{school_id, class_name, student_count, photo_ids: [...]}]: each receiving class.
    participants: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # Client photo ids (uploaded through media) from the lead classroom.
    lead_photo_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    # Server-maintained.
    submitted_by_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Complete: lead and every receiving classroom have a photo, every field of the form
    # is filled. ``missing`` says what is not, in words the teacher reads.
    complete: Mapped[bool] = mapped_column(default=False)
    missing: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    device_pk: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="SET NULL")
    )
    client_digest: Mapped[str] = mapped_column(sa.String(64))
