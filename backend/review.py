"""Review of evidence (佐证材料): the state every reviewed record carries, and the append-only
trail of what was submitted, verified, rejected and resubmitted. Only verified evidence
counts towards a community's score (003 attachment 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, UTCDateTime, str_enum

REVIEW_STATUSES = ("submitted", "verified", "rejected")
REVIEW_ACTIONS = ("submitted", "resubmitted", "verified", "rejected", "withdrawn")
REVIEWED_KINDS = ("evidence", "class_session")


class Reviewed:
    """Columns of a record a bureau reviewer verifies or rejects (with a reason). A rejected
    record is fixed by its submitter and resubmitted: ``revision`` counts the versions, so
    a decision always names the version it was about."""

    review_status: Mapped[str] = mapped_column(
        str_enum(*REVIEW_STATUSES, name="review_status"), default="submitted"
    )
    revision: Mapped[int] = mapped_column(default=1)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_reason: Mapped[str] = mapped_column(sa.String(1000), default="")


class ReviewEvent(IdMixin, Base):
    """One step in a reviewed record's life. Append-only: never updated, never deleted."""

    __tablename__ = "review_events"
    __table_args__ = (sa.Index("ix_review_events_record", "record_kind", "record_id", "at"),)

    record_kind: Mapped[str] = mapped_column(str_enum(*REVIEWED_KINDS, name="record_kind"))
    record_id: Mapped[str] = mapped_column(sa.String(64))
    revision: Mapped[int]
    action: Mapped[str] = mapped_column(str_enum(*REVIEW_ACTIONS, name="action"))
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The record's client-written content as it stood (what was decided on).
    snapshot: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
