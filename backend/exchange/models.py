"""Teachers and secondments (交流), with their extensions.

A secondment's ``end_on`` is its current end: each approved extension moves it and keeps
the previous end in :class:`SecondmentExtension`, so the original term is never lost.
On PostgreSQL an exclusion constraint makes overlapping secondments of one teacher
impossible even under concurrent writes (created by the migration: SQLite has no such
constraint, so the service's check is the guard there).
"""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, IdMixin, Journaled, TimestampMixin, str_enum
from backend.org.models import School

SECONDMENT_KINDS = ("support_teaching", "shadowing", "itinerant", "part_time")
SECONDMENT_ROLES = ("teaching", "management")
SECONDMENT_STATUSES = ("active", "cancelled")
MAX_EXTENSIONS = 2  # 003 §四(三): may extend by 1–2 school years


class Teacher(IdMixin, TimestampMixin, Base):
    __tablename__ = "teachers"

    staff_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    home_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    subjects: Mapped[list[str]] = mapped_column(default=list)
    phone: Mapped[str] = mapped_column(sa.String(32), default="")

    home_school: Mapped[School] = relationship()


class Secondment(IdMixin, Journaled, TimestampMixin, Base):
    __tablename__ = "secondments"
    __table_args__ = (
        sa.CheckConstraint("end_on > start_on", name="period_order"),
        sa.CheckConstraint("host_school_id <> home_school_id", name="host_not_home"),
        sa.CheckConstraint(
            f"extension_count BETWEEN 0 AND {MAX_EXTENSIONS}", name="extension_count"
        ),
        sa.Index("ix_secondments_teacher_period", "teacher_id", "start_on", "end_on"),
    )

    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teachers.id", ondelete="RESTRICT"))
    home_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    host_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    community_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(str_enum(*SECONDMENT_KINDS, name="kind"))
    role: Mapped[str] = mapped_column(str_enum(*SECONDMENT_ROLES, name="role"))
    start_on: Mapped[date]
    end_on: Mapped[date]
    original_end_on: Mapped[date]
    extension_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(
        str_enum(*SECONDMENT_STATUSES, name="status"), default="active"
    )
    # The bureau may allow a secondment between schools of different communities.
    cross_community_exception: Mapped[bool] = mapped_column(default=False)
    exception_reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    cancel_reason: Mapped[str] = mapped_column(sa.String(1000), default="")

    teacher: Mapped[Teacher] = relationship()
    home_school: Mapped[School] = relationship(foreign_keys=[home_school_id])
    host_school: Mapped[School] = relationship(foreign_keys=[host_school_id])
    extensions: Mapped[list[SecondmentExtension]] = relationship(
        back_populates="secondment", order_by="SecondmentExtension.seq"
    )


class SecondmentExtension(IdMixin, TimestampMixin, Base):
    __tablename__ = "secondment_extensions"
    __table_args__ = (
        sa.UniqueConstraint("secondment_id", "seq"),
        sa.CheckConstraint(f"seq BETWEEN 1 AND {MAX_EXTENSIONS}", name="seq_range"),
        sa.CheckConstraint("new_end_on > previous_end_on", name="extends"),
    )

    secondment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("secondments.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    previous_end_on: Mapped[date]
    new_end_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    secondment: Mapped[Secondment] = relationship(back_populates="extensions")
