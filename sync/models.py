"""What sync itself stores: each push's clock reading, quarantined records, and what each
device was last sent (to tell it which records left its scope)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, Journaled, utcnow

QUARANTINE_STATES = ("open", "resolved", "dismissed")


class SyncPush(IdMixin, Base):
    """One accepted push: who, from which device, and the device clock against ours."""

    __tablename__ = "sync_pushes"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    device_pk: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_pulled_at: Mapped[int] = mapped_column(sa.BigInteger)
    device_time: Mapped[int] = mapped_column(sa.BigInteger)
    device_elapsed_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    device_boot_id: Mapped[str | None] = mapped_column(sa.String(64))
    skew_ms: Mapped[int] = mapped_column(sa.BigInteger, doc="server time − device time")
    schema_version: Mapped[int]
    applied: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)


class QuarantinedRecord(IdMixin, Journaled, Base):
    """A pushed record that failed validation or authorization: kept whole, never lost.

    Admins see and resolve these; the phone pulls the record back with status
    ``quarantined`` and the reason, so it is not re-pushed forever (the poison-pill trap).
    """

    __tablename__ = "sync_quarantine"
    __tombstones_only__ = True
    __table_args__ = (sa.UniqueConstraint("user_id", "table_name", "record_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    device_pk: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="SET NULL")
    )
    table_name: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[str] = mapped_column(sa.String(64))
    operation: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.String(64))
    detail: Mapped[str] = mapped_column(sa.String(1000), default="")
    attempts: Mapped[int] = mapped_column(default=1)
    first_received_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    resolution_note: Mapped[str] = mapped_column(sa.String(1000), default="")


class DeviceSyncState(Base):
    """The record ids a device holds after the pull that returned ``timestamp``.

    The next pull diffs the caller's visible records against it: what left the scope is
    sent as ``deleted``, what entered it is sent whole however old it is.
    """

    __tablename__ = "sync_device_states"

    device_pk: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    timestamp: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    schema_version: Mapped[int]
    record_ids: Mapped[dict[str, list[str]]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
