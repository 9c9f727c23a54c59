"""Review of evidence (佐证材料): the state every reviewed record carries, the append-only
trail of what was submitted, verified, rejected and resubmitted, and the services that move
a record through it. Only verified evidence counts towards a community's score (003
attachment 2). Used by community evidence (``scoring``) and class sessions (``classes``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.audit.trail import Audited
from backend.db import Base, IdMixin, UTCDateTime, str_enum, utcnow
from backend.errors import Conflict, InvalidInput

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


class ReviewEvent(IdMixin, Audited, Base):
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


# --- the life of a reviewed record (services: flush, never commit) --------------------------


class StaleRevision(Conflict):
    """The reviewer decided on a version that has since been changed by its submitter."""

    code = "stale_revision"


class ReasonRequired(InvalidInput):
    code = "reason_required"


def _event(
    session: Session,
    kind: str,
    record: Any,
    action: str,
    actor_id: uuid.UUID | None,
    *,
    reason: str = "",
    snapshot: dict[str, Any] | None = None,
) -> ReviewEvent:
    event = ReviewEvent(
        record_kind=kind,
        record_id=str(record.id),
        revision=record.revision,
        action=action,
        reason=reason,
        actor_id=actor_id,
        at=utcnow(),
        snapshot=snapshot or {},
    )
    session.add(event)
    session.flush()
    return event


def submitted(
    session: Session, kind: str, record: Any, actor_id: uuid.UUID, snapshot: dict[str, Any]
) -> None:
    """A new record: waiting for review (its first event)."""
    record.review_status = "submitted"
    _event(session, kind, record, "submitted", actor_id, snapshot=snapshot)


def resubmitted(
    session: Session, kind: str, record: Any, actor_id: uuid.UUID, snapshot: dict[str, Any]
) -> None:
    """The submitter changed the record's content: a new revision, to be reviewed again —
    whatever was decided on the old one (a verified record changed is not verified)."""
    record.revision += 1
    record.review_status = "submitted"
    record.reviewed_by_id = None
    record.reviewed_at = None
    record.review_reason = ""
    _event(session, kind, record, "resubmitted", actor_id, snapshot=snapshot)


def decide(
    session: Session,
    kind: str,
    record: Any,
    reviewer_id: uuid.UUID,
    *,
    verified: bool,
    reason: str,
    revision: int | None,
) -> None:
    """Verify or reject (with a reason) the record's current revision. ``revision``: the
    one the reviewer looked at; a different current one is a conflict (409)."""
    if revision is not None and revision != record.revision:
        raise StaleRevision(
            f"revision {revision} was reviewed, but the record is at revision {record.revision}"
        )
    reason = reason.strip()
    if not verified and not reason:
        raise ReasonRequired("a rejection says why, so the submitter can fix it")
    record.review_status = "verified" if verified else "rejected"
    record.reviewed_by_id = reviewer_id
    record.reviewed_at = utcnow()
    record.review_reason = reason
    _event(
        session, kind, record, "verified" if verified else "rejected", reviewer_id, reason=reason
    )


def withdrawn(session: Session, kind: str, record: Any, actor_id: uuid.UUID | None) -> None:
    _event(session, kind, record, "withdrawn", actor_id)


def history(session: Session, kind: str, record_id: str) -> list[ReviewEvent]:
    return list(
        session.scalars(
            sa.select(ReviewEvent)
            .where(ReviewEvent.record_kind == kind, ReviewEvent.record_id == record_id)
            .order_by(ReviewEvent.at, ReviewEvent.id)
        )
    )
