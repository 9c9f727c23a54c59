"""Community evidence (佐证材料) and its scoring against the county's rubric (考核细则, 003
attachment 2).

- An :class:`EvidenceItem` is a typed record of something a community did — a development
  seminar, a research activity, a news report, a mentor pair and its sessions, a joint
  research project, quality monitoring and its analysis, shared teaching materials, a
  student exchange, a typical case — with its date, schools, people, description and
  photos or scans. Schools file them (API or sync); a bureau reviewer verifies or rejects
  each (``backend.review``); only verified evidence counts. Synchronized class sessions
  are evidence of their own kind (``backend.classes``); backbone teachers sent and young
  teachers posted are derived from secondments, never filed.
- A :class:`Rubric` is data, versioned per region and school year: areas with points,
  criteria with minimum counts, deductions per missing item, bonuses per extra item, caps,
  a floor of 0 per area, and manual criteria scored by reviewers (:class:`ManualScore`).
  The rubric of a year is fixed once used: next year's change is next year's rubric.
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

EVIDENCE_KINDS = (
    "development_seminar",  # 共谋发展专题研讨
    "joint_activity",  # 联合开展工作的档案和活动记录
    "news_report",  # 信息报道 (a link or a screenshot)
    "research_online",  # 线上教研 / 网络研修
    "research_offline",  # 线下教研
    "mentor_pair",  # 师徒结对
    "mentor_session",  # 师徒听课研讨 (details.pair_id names the pair)
    "research_project",  # 联合或合作研究课题
    "quality_monitoring",  # 同步教学质量监测 (details.analysis: true if analysed)
    "quality_analysis",  # 质量分析 (details.monitoring_id names the monitoring)
    "teaching_materials",  # 教学资料共享 (subject required)
    "student_exchange",  # 班级结对、体艺交流、学科竞赛…
    "typical_case",  # 典型案例
)


class EvidenceItem(Journaled, TimestampMixin, Reviewed, Audited, Base):
    __tablename__ = "evidence_items"
    __tombstones_only__ = True  # withdrawn, never destroyed: reviews refer to it
    __table_args__ = (sa.Index("ix_evidence_items_community_day", "community_id", "day"),)

    id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(str_enum(*EVIDENCE_KINDS, name="kind"))
    day: Mapped[date]
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.String(4000), default="")
    subject: Mapped[str | None] = mapped_column(sa.String(50))
    url: Mapped[str | None] = mapped_column(sa.String(500))
    # Schools concerned (ids), people concerned (names or teacher ids), photos or scans
    # (client photo ids, uploaded through media), and what the kind needs besides.
    school_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    people: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    photo_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    submitted_by_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Rubric(IdMixin, TimestampMixin, Base):
    """A region's scoring rubric for one school year, as data (see ``scoring.rubric``)."""

    __tablename__ = "rubrics"
    __table_args__ = (sa.UniqueConstraint("region_id", "school_year", "version"),)

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id", ondelete="RESTRICT"))
    school_year: Mapped[int] = mapped_column(doc="the year the school year starts (2026: 2026–27)")
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(sa.String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class ManualScore(IdMixin, TimestampMixin, Audited, Base):
    """A reviewer's score of a manual criterion (e.g. the outcomes area), with a note."""

    __tablename__ = "manual_scores"
    __table_args__ = (sa.UniqueConstraint("community_id", "rubric_id", "criterion"),)

    community_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="RESTRICT")
    )
    rubric_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("rubrics.id", ondelete="RESTRICT"))
    criterion: Mapped[str] = mapped_column(sa.String(100), doc="the criterion's key")
    points: Mapped[float]
    note: Mapped[str] = mapped_column(sa.String(2000), default="")
    scored_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
