"""Monthly attendance reports (考勤汇总): the host school's tally of a month, confirmed by
its admin, assembled into each home school's report and delivered to it (003 §四(三)4).

Versions are immutable: late data that changes a confirmed month issues a new version
with a per-teacher diff against the one before, and the earlier versions stay as they were.
The database guards the invariants: one row per (school, month, version), and at most one
*current* version per school and month (a partial unique index), whatever two workers or
two schedulers do at once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.audit.trail import Audited
from backend.db import Base, IdMixin, TimestampMixin, UTCDateTime, str_enum

HOST_REPORT_STATUSES = ("draft", "confirmed", "superseded")
RUN_STATUSES = ("queued", "running", "done", "failed")
RUN_KINDS = ("tally", "assemble", "deliver", "reconcile")
DELIVERY_CHANNELS = ("inbox", "webhook")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


def _one_current(table: str) -> sa.Index:
    where = sa.text("is_current")
    return sa.Index(
        f"uq_{table}_current",
        "school_id",
        "month",
        unique=True,
        postgresql_where=where,
        sqlite_where=where,
    )


class _Report(IdMixin, TimestampMixin, Audited):
    # The trail records ``content_hash`` for the rows (and diff, derived from them): a
    # province's month would otherwise copy every report's rows into it.
    __audit_omit__ = frozenset({"rows", "diff"})

    school_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("schools.id", ondelete="RESTRICT"))
    month: Mapped[date] = mapped_column(doc="the first day of the month")
    version: Mapped[int]
    is_current: Mapped[bool] = mapped_column(default=True)
    # One row per teacher, as tallied (see reports.tally for the columns).
    rows: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    # sha256 of the canonical JSON of ``rows``: the same month tallied twice (a retried
    # job) gives the same hash, and an unchanged re-tally issues no new version.
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    # Per teacher, what changed against the previous version (empty for version 1).
    diff: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    amendment: Mapped[bool] = mapped_column(default=False)
    previous_id: Mapped[uuid.UUID | None]


class HostMonthReport(_Report, Base):
    """A host school's month: tallied, reviewed and confirmed by its admin."""

    __tablename__ = "host_month_reports"
    __table_args__ = (
        sa.UniqueConstraint("school_id", "month", "version"),
        _one_current("host_month_reports"),
    )

    status: Mapped[str] = mapped_column(
        str_enum(*HOST_REPORT_STATUSES, name="status"), default="draft"
    )
    tallied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why this version exists: "month end", "late data: 2 check-ins synced", ...
    reason: Mapped[str] = mapped_column(sa.String(300), default="")


class HomeMonthReport(_Report, Base):
    """A home school's month: its seconded teachers' confirmed rows, from every host school
    they were at, delivered to its admin (and webhook) and acknowledged."""

    __tablename__ = "home_month_reports"
    __table_args__ = (
        sa.UniqueConstraint("school_id", "month", "version"),
        _one_current("home_month_reports"),
    )

    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportDelivery(IdMixin, TimestampMixin, Base):
    """One channel's delivery of one home report version: the inbox entry, or a webhook."""

    __tablename__ = "report_deliveries"
    __table_args__ = (sa.UniqueConstraint("report_id", "channel"),)

    report_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("home_month_reports.id", ondelete="RESTRICT")
    )
    channel: Mapped[str] = mapped_column(str_enum(*DELIVERY_CHANNELS, name="channel"))
    status: Mapped[str] = mapped_column(
        str_enum(*DELIVERY_STATUSES, name="status"), default="pending"
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(1000), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportRun(IdMixin, TimestampMixin, Base):
    """A report job as admins see it. ``key`` is deterministic (kind, school, month), so a
    trigger fired twice finds the run already queued instead of starting a second."""

    __tablename__ = "report_runs"
    __table_args__ = (
        sa.Index(
            "uq_report_runs_active_key",
            "key",
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        ),
        sa.Index("ix_report_runs_school_month", "school_id", "month"),
    )

    key: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(str_enum(*RUN_KINDS, name="kind"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    month: Mapped[date | None]
    status: Mapped[str] = mapped_column(str_enum(*RUN_STATUSES, name="status"), default="queued")
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    error: Mapped[str] = mapped_column(sa.String(2000), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
