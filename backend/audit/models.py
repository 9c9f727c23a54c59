"""The audit trail's two tables: the events, and the head that orders who appends next."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime

ACTIONS = ("insert", "update", "delete")


class AuditEvent(Base):
    """One change to one audited row. Never updated or deleted: PostgreSQL (and SQLite)
    triggers refuse it, and ``hash`` chains each event to the one before it."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Who: a user (with role and the device they used) or, for background work, a job.
    actor: Mapped[str] = mapped_column(sa.String(200))
    actor_user_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str] = mapped_column(sa.String(32))
    device_pk: Mapped[uuid.UUID | None]
    device_id: Mapped[str] = mapped_column(sa.String(128))
    request_id: Mapped[str] = mapped_column(sa.String(128))
    # What: the row (table and primary key), the kind of change, and the values it changed.
    table_name: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(8))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_events_record", "table_name", "record_id"),)


class AuditHead(Base):
    """One row: the chain's last event. Updating it is how an appender takes its turn (the
    row lock orders appenders, so events are numbered and chained in commit order)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The database itself refuses changes to recorded events, whoever asks (the migration
# creates the same triggers; PostgreSQL also revokes UPDATE, DELETE and TRUNCATE).
APPEND_ONLY_MESSAGE = "audit_events is append-only"
