"""Random spot checks (双随机、一公开): plans, their verifiable draws, the visits inspectors
make, and what each visit found about each teacher.

- An :class:`InspectionPlan` is the bureau's: a period, a scope, how many to check and
  how. Committing it freezes the draw's inputs (candidates, inspectors, exclusions) and
  publishes the hash of a secret seed; drawing turns them into :class:`SpotCheck` rows
  (a host school, a date window, the teachers drawn, the inspectors drawn); revealing
  the seed after the period lets anyone re-run the draw (``inspection.draw``).
- A spot check is secret until it is visited: only its inspectors and the bureau see it.
- A :class:`SpotCheckVisit` is made offline on an inspector's phone and synced; its
  findings are also kept one row per teacher (:class:`SpotCheckFinding`), cross-checked
  against that teacher's attendance of the day (``inspection.crosscheck``).
- :class:`InspectorConflict` is the directory of recusals (回避): an inspector never checks
  their own school, a school they came from, or a teacher listed as a relative or colleague.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.attendance.models import CLIENT_ID_LENGTH, COORD_SYSTEMS
from backend.audit.trail import Audited
from backend.db import Base, IdMixin, Journaled, TimestampMixin, UTCDateTime, str_enum

PLAN_STATUSES = ("draft", "committed", "drawn", "revealed", "cancelled")
STRATA = ("none", "community", "host_school")
SPOT_CHECK_STATUSES = ("assigned", "visited", "cancelled")
CONFLICT_KINDS = ("own_school", "former_school", "relative", "colleague", "other")
# What an inspector found a teacher doing (per teacher, per visit).
FINDINGS = (
    "present_teaching",
    "present_not_teaching",
    "absent",
    "on_approved_leave",
    "absent_without_leave",
)
PRESENT_FINDINGS = ("present_teaching", "present_not_teaching")
ABSENT_FINDINGS = ("absent", "absent_without_leave")
VISIT_STATUSES = ("accepted", "flagged")


class InspectionPlan(IdMixin, TimestampMixin, Base):
    __tablename__ = "inspection_plans"
    __table_args__ = (
        sa.CheckConstraint("period_start <= period_end", name="period"),
        sa.CheckConstraint(
            "(target_count IS NOT NULL) <> (target_ratio IS NOT NULL)", name="one_target"
        ),
        sa.CheckConstraint("target_count IS NULL OR target_count >= 1", name="target_count"),
        sa.CheckConstraint(
            "target_ratio IS NULL OR (target_ratio > 0 AND target_ratio <= 1)", name="target_ratio"
        ),
        sa.CheckConstraint("inspectors_per_visit >= 2", name="inspectors_per_visit"),
        sa.CheckConstraint("window_days BETWEEN 1 AND 31", name="window_days"),
        sa.Index("ix_inspection_plans_region_period", "region_id", "period_start"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(sa.String(200))
    period_start: Mapped[date]
    period_end: Mapped[date]
    # Scope: these communities' host schools; empty = every host school in the region.
    community_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    target_count: Mapped[int | None]
    target_ratio: Mapped[float | None]
    strata: Mapped[str] = mapped_column(str_enum(*STRATA, name="strata"), default="host_school")
    risk_weighting: Mapped[bool] = mapped_column(default=True)
    inspectors_per_visit: Mapped[int] = mapped_column(default=2)
    window_days: Mapped[int] = mapped_column(default=5, doc="days a visit may fall on")
    status: Mapped[str] = mapped_column(str_enum(*PLAN_STATUSES, name="status"), default="draft")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Commit–reveal. ``seed`` is secret until revealed (never served before); its sha256
    # and the digest of the frozen inputs are public from the commit on.
    seed: Mapped[str | None] = mapped_column(sa.String(64))
    seed_commitment: Mapped[str | None] = mapped_column(sa.String(64))
    inputs: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    inputs_digest: Mapped[str | None] = mapped_column(sa.String(64))
    # Public randomness named after the commit (e.g. a lottery draw's numbers): the seed's
    # holder cannot have chosen a seed for an outcome it did not know.
    beacon: Mapped[str] = mapped_column(sa.String(200), default="")
    result_digest: Mapped[str | None] = mapped_column(sa.String(64))
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SpotCheck(IdMixin, Journaled, TimestampMixin, Base):
    """One drawn visit: a host school, a date window, its teachers and inspectors."""

    __tablename__ = "spot_checks"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "school_id"),
        sa.CheckConstraint("window_start <= window_end", name="window"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("inspection_plans.id", ondelete="RESTRICT")
    )
    school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    window_start: Mapped[date]
    window_end: Mapped[date]
    sequence: Mapped[int] = mapped_column(doc="its place in the draw")
    status: Mapped[str] = mapped_column(
        str_enum(*SPOT_CHECK_STATUSES, name="status"), default="assigned"
    )
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SpotCheckTeacher(Base):
    __tablename__ = "spot_check_teachers"

    spot_check_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("spot_checks.id", ondelete="CASCADE"), primary_key=True
    )
    teacher_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("teachers.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class SpotCheckInspector(Base):
    __tablename__ = "spot_check_inspectors"

    spot_check_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("spot_checks.id", ondelete="CASCADE"), primary_key=True
    )
    inspector_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class InspectorConflict(IdMixin, TimestampMixin, Base):
    """A recusal (回避): the inspector never checks this school, or this teacher."""

    __tablename__ = "inspector_conflicts"
    __table_args__ = (
        sa.CheckConstraint("(school_id IS NOT NULL) <> (teacher_id IS NOT NULL)", name="one_of"),
        sa.CheckConstraint(
            "(kind IN ('own_school', 'former_school') AND school_id IS NOT NULL)"
            " OR (kind IN ('relative', 'colleague') AND teacher_id IS NOT NULL)"
            " OR kind = 'other'",
            name="kind_matches",
        ),
        # One recusal per inspector and school, and per inspector and teacher (one of the
        # two is always null, so a plain unique constraint over three columns never fires).
        sa.Index(
            "uq_inspector_conflicts_school",
            "inspector_id",
            "school_id",
            unique=True,
            postgresql_where=sa.text("school_id IS NOT NULL"),
            sqlite_where=sa.text("school_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_inspector_conflicts_teacher",
            "inspector_id",
            "teacher_id",
            unique=True,
            postgresql_where=sa.text("teacher_id IS NOT NULL"),
            sqlite_where=sa.text("teacher_id IS NOT NULL"),
        ),
    )

    inspector_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("teachers.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(str_enum(*CONFLICT_KINDS, name="kind"))
    note: Mapped[str] = mapped_column(sa.String(500), default="")


class SpotCheckVisit(Journaled, TimestampMixin, Audited, Base):
    """A visit as the inspector's phone recorded it, plus what the server adds on receipt.
    The id is the phone's: a re-sent visit can only update the same row."""

    __tablename__ = "spot_check_visits"
    __tombstones_only__ = True  # evidence: withdrawn, never destroyed
    __table_args__ = (
        # One live visit per inspector per spot check (co-inspectors each file their own;
        # a withdrawn one stays as evidence and does not block a new one).
        sa.Index(
            "uq_spot_check_visits_live",
            "spot_check_id",
            "inspector_id",
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        ),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    spot_check_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("spot_checks.id", ondelete="RESTRICT"), index=True
    )
    # Always the pushing token's user, whatever the payload says.
    inspector_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    arrived_at: Mapped[int] = mapped_column(sa.BigInteger, doc="device epoch ms on arrival")
    elapsed_ms: Mapped[int | None] = mapped_column(sa.BigInteger, doc="device ms since boot")
    boot_id: Mapped[str | None] = mapped_column(sa.String(64))
    latitude: Mapped[float]
    longitude: Mapped[float]
    accuracy_m: Mapped[float | None]
    coord_system: Mapped[str] = mapped_column(
        str_enum(*COORD_SYSTEMS, name="coord_system"), default="wgs84"
    )
    mock_location: Mapped[bool] = mapped_column(default=False)
    # Client photo ids (uploaded through media): the visit, and the school
    # representative's signature.
    photo_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    signature_photo_id: Mapped[str | None] = mapped_column(sa.String(CLIENT_ID_LENGTH))
    # [{teacher_id, finding, note}] as the phone sent them (also kept as SpotCheckFinding).
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    note: Mapped[str] = mapped_column(sa.String(2000), default="")

    # Server-maintained, pulled back to the phone.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    estimated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    estimate_method: Mapped[str | None] = mapped_column(sa.String(24))
    wgs84_latitude: Mapped[float | None]
    wgs84_longitude: Mapped[float | None]
    distance_m: Mapped[float | None] = mapped_column(doc="beyond the nearest fence; < 0 inside")
    location: Mapped[str | None] = mapped_column(sa.String(16))
    # The least advanced state of its photos (media.models.PHOTO_STATES), as for check-ins.
    photo_state: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(
        str_enum(*VISIT_STATUSES, name="status"), default="accepted"
    )
    flags: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    device_pk: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="SET NULL")
    )
    push_device_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    push_elapsed_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    push_boot_id: Mapped[str | None] = mapped_column(sa.String(64))
    clock_skew_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    client_digest: Mapped[str] = mapped_column(sa.String(64))


class SpotCheckFinding(IdMixin, TimestampMixin, Audited, Base):
    """One teacher's finding in one visit, with its cross-check against attendance.
    Derived from the visit (rewritten whenever the visit changes)."""

    __tablename__ = "spot_check_findings"
    __table_args__ = (
        sa.UniqueConstraint("visit_id", "teacher_id"),
        sa.Index("ix_spot_check_findings_teacher_day", "teacher_id", "day"),
        sa.Index("ix_spot_check_findings_host_day", "host_school_id", "day"),
    )

    visit_id: Mapped[str] = mapped_column(sa.ForeignKey("spot_check_visits.id", ondelete="CASCADE"))
    spot_check_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("spot_checks.id", ondelete="RESTRICT")
    )
    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teachers.id", ondelete="RESTRICT"))
    host_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    day: Mapped[date] = mapped_column(doc="the visit's day, China time")
    finding: Mapped[str] = mapped_column(str_enum(*FINDINGS, name="finding"))
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    # [{code, reason}]: where the finding and the attendance record disagree.
    discrepancies: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
