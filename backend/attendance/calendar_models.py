"""The stored layers of the workday calendar (the rules that combine them: ``calendar.py``).

- :class:`PublishedYear` and its :class:`PublishedDay` entries: a year's public holidays and
  make-up working days (调休) as the State Council's notice has them, published by a
  bureau for its region and inherited by the regions below it.
- :class:`SchoolCalendarPeriod`: a region's school calendar, terms and vacations.
- :class:`SchoolDayException`: a school closed or open on dates against the rest.

Periods of one region, and exceptions of one school, never overlap: on PostgreSQL an
exclusion constraint (created by the migration) guarantees it under concurrent writes; on
SQLite the service's check, under SQLite's single-writer lock, is the guard.
"""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, IdMixin, TimestampMixin, str_enum

PUBLISHED_DAY_KINDS = ("holiday", "workday")
PERIOD_KINDS = ("term", "vacation")
EXCEPTION_KINDS = ("closed", "open")
MIN_YEAR = 2000
MAX_YEAR = 2100


class PublishedYear(IdMixin, TimestampMixin, Base):
    """A year's holiday notice as a bureau published it for its region (and those below)."""

    __tablename__ = "published_calendar_years"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "year"),
        sa.CheckConstraint(f"year BETWEEN {MIN_YEAR} AND {MAX_YEAR}", name="year_range"),
    )

    # The unique (region_id, year) index serves lookups by region too.
    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id", ondelete="RESTRICT"))
    year: Mapped[int]
    # The notice it copies, e.g. "国务院办公厅关于2027年部分节假日安排的通知".
    notice: Mapped[str] = mapped_column(sa.String(500), default="")
    published_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    days: Mapped[list[PublishedDay]] = relationship(
        back_populates="published_year",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PublishedDay.day",
    )


class PublishedDay(IdMixin, Base):
    """One dated entry of a notice: a holiday, or a weekend day worked instead (调休)."""

    __tablename__ = "published_calendar_days"
    __table_args__ = (sa.UniqueConstraint("published_year_id", "day"),)

    published_year_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("published_calendar_years.id", ondelete="CASCADE")
    )
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(str_enum(*PUBLISHED_DAY_KINDS, name="kind"))
    name: Mapped[str] = mapped_column(sa.String(100))

    published_year: Mapped[PublishedYear] = relationship(back_populates="days")


class SchoolCalendarPeriod(IdMixin, TimestampMixin, Base):
    """A term or a vacation of a region's school calendar, both ends included.

    ``school_year`` is the year the school year begins (2026 for 2026–2027).
    """

    __tablename__ = "school_calendar_periods"
    __table_args__ = (
        sa.CheckConstraint("end_on >= start_on", name="period_order"),
        sa.CheckConstraint(
            f"school_year BETWEEN {MIN_YEAR} AND {MAX_YEAR}", name="school_year_range"
        ),
        sa.Index("ix_school_calendar_periods_region_year", "region_id", "school_year"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id", ondelete="RESTRICT"))
    school_year: Mapped[int]
    kind: Mapped[str] = mapped_column(str_enum(*PERIOD_KINDS, name="kind"))
    name: Mapped[str] = mapped_column(sa.String(100))
    start_on: Mapped[date]
    end_on: Mapped[date]


class SchoolDayException(IdMixin, TimestampMixin, Base):
    """A school closed (a snow day) or open (a make-up school day) from start to end."""

    __tablename__ = "school_day_exceptions"
    __table_args__ = (
        sa.CheckConstraint("end_on >= start_on", name="period_order"),
        sa.Index("ix_school_day_exceptions_school_start", "school_id", "start_on"),
    )

    school_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("schools.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(str_enum(*EXCEPTION_KINDS, name="kind"))
    start_on: Mapped[date]
    end_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
