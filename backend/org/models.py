"""Region tree, schools with their geofences, communities and their dated membership.

Membership is history, never overwritten (001 §7, 004 Qingdao): every join or leave is a
:class:`MembershipChange` that a bureau admin approves; approval writes or closes a
:class:`CommunityMembership` period. "Who is a member on day D" is a query over periods.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, IdMixin, Journaled, JournaledChild, TimestampMixin, str_enum

REGION_LEVELS = ("province", "city", "county", "township")
SCHOOL_KINDS = ("primary", "middle", "nine_year", "teaching_site")
LOCALITIES = ("urban", "rural")
COMMUNITY_MODES = ("merged", "co_built", "collaborative")
MEMBERSHIP_ACTIONS = ("join", "leave")
CHANGE_STATUSES = ("requested", "approved", "rejected")
MEMBERSHIP_ROLES = ("core", "member")


class Region(IdMixin, TimestampMixin, Base):
    """An administrative division: province › city › county (› township)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    level: Mapped[str] = mapped_column(str_enum(*REGION_LEVELS, name="level"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    # Materialized path of codes ("/64/6404/640422/"): a scope test is one indexed prefix match.
    path: Mapped[str] = mapped_column(sa.String(255), unique=True)

    parent: Mapped[Region | None] = relationship(remote_side="Region.id")


class School(IdMixin, Journaled, TimestampMixin, Base):
    __tablename__ = "schools"
    __table_args__ = (
        sa.CheckConstraint("student_count >= 0", name="student_count_nonnegative"),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        sa.CheckConstraint("geofence_radius_m BETWEEN 10 AND 5000", name="geofence_radius"),
    )

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(str_enum(*SCHOOL_KINDS, name="kind"))
    locality: Mapped[str] = mapped_column(str_enum(*LOCALITIES, name="locality"))
    student_count: Mapped[int] = mapped_column(default=0)
    region_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    # WGS-84 (what GPS reports); phones on Chinese map SDKs convert from GCJ-02 first.
    latitude: Mapped[float]
    longitude: Mapped[float]
    geofence_radius_m: Mapped[int] = mapped_column(default=300)
    note: Mapped[str] = mapped_column(sa.String(500), default="")

    region: Mapped[Region] = relationship()
    fence_points: Mapped[list[FencePoint]] = relationship(
        back_populates="school", cascade="all, delete-orphan", order_by="FencePoint.label"
    )


class FencePoint(IdMixin, JournaledChild, Base):
    """An extra fence centre, e.g. a satellite teaching site of the school."""

    __tablename__ = "school_fence_points"
    __table_args__ = (
        sa.UniqueConstraint("school_id", "label"),
        sa.CheckConstraint("radius_m BETWEEN 10 AND 5000", name="radius"),
    )

    school_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("schools.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(100))
    latitude: Mapped[float]
    longitude: Mapped[float]
    radius_m: Mapped[int] = mapped_column(default=300)

    school: Mapped[School] = relationship(back_populates="fence_points")

    def journal_parent(self) -> School | None:
        # Phones get the fence as part of the school record.
        return self.school


class Community(IdMixin, TimestampMixin, Base):
    __tablename__ = "communities"
    __table_args__ = (sa.CheckConstraint("term_end > term_start", name="term_order"),)

    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    mode: Mapped[str] = mapped_column(str_enum(*COMMUNITY_MODES, name="mode"))
    region_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    core_school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    term_start: Mapped[date]
    term_end: Mapped[date]

    region: Mapped[Region] = relationship()
    core_school: Mapped[School] = relationship()
    memberships: Mapped[list[CommunityMembership]] = relationship(
        back_populates="community", order_by="CommunityMembership.joined_on"
    )


class MembershipChange(IdMixin, TimestampMixin, Base):
    """A dated request to join or leave a community; approved or rejected by the bureau."""

    __tablename__ = "membership_changes"
    __table_args__ = (
        # One open request per school, community and action: a second is a conflict.
        sa.Index(
            "uq_membership_changes_requested",
            "community_id",
            "school_id",
            "action",
            unique=True,
            sqlite_where=sa.text("status = 'requested'"),
            postgresql_where=sa.text("status = 'requested'"),
        ),
    )

    community_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True
    )
    school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[str] = mapped_column(str_enum(*MEMBERSHIP_ACTIONS, name="action"))
    effective_on: Mapped[date]
    status: Mapped[str] = mapped_column(
        str_enum(*CHANGE_STATUSES, name="status"), default="requested"
    )
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(sa.String(1000), default="")

    community: Mapped[Community] = relationship()
    school: Mapped[School] = relationship()


class CommunityMembership(IdMixin, Base):
    """A period during which a school belongs to a community (``left_on`` exclusive)."""

    __tablename__ = "community_memberships"
    __table_args__ = (
        sa.CheckConstraint("left_on IS NULL OR left_on > joined_on", name="period_order"),
        # One open period per school and community: a second join is a conflict, not a row.
        sa.Index(
            "uq_community_memberships_open",
            "community_id",
            "school_id",
            unique=True,
            sqlite_where=sa.text("left_on IS NULL"),
            postgresql_where=sa.text("left_on IS NULL"),
        ),
    )

    community_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True
    )
    school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    role: Mapped[str] = mapped_column(str_enum(*MEMBERSHIP_ROLES, name="role"))
    joined_on: Mapped[date]
    left_on: Mapped[date | None]
    joined_by_change_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("membership_changes.id", ondelete="RESTRICT")
    )
    left_by_change_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("membership_changes.id", ondelete="RESTRICT")
    )

    community: Mapped[Community] = relationship(back_populates="memberships")
    school: Mapped[School] = relationship()


def active_on(day: date) -> sa.ColumnElement[bool]:
    """Membership periods covering ``day``."""
    return sa.and_(
        CommunityMembership.joined_on <= day,
        sa.or_(CommunityMembership.left_on.is_(None), CommunityMembership.left_on > day),
    )
