"""Check-ins (打卡) as phones record them, plus what the server adds on receipt.

The id is the phone's own (WatermelonDB generates it), so a re-sent check-in can only
ever update the same row: the primary key is the idempotency guard. Device times are
kept as evidence beside the server's receive time; they are never trusted as the time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.audit.trail import Audited
from backend.db import Base, IdMixin, Journaled, TimestampMixin, UTCDateTime, str_enum

CHECK_IN_KINDS = ("in", "out")
COORD_SYSTEMS = ("wgs84", "gcj02")
CHECK_IN_STATUSES = ("accepted", "flagged", "rejected")
CLIENT_ID_LENGTH = 64


class CheckIn(Journaled, TimestampMixin, Audited, Base):
    __tablename__ = "check_ins"
    __tombstones_only__ = True  # pay evidence: withdrawn, never destroyed
    __table_args__ = (
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        sa.Index("ix_check_ins_teacher_received", "teacher_id", "received_at"),
        # The host school's flag queue and daily board: its teachers' punches by time.
        sa.Index("ix_check_ins_host_estimated", "host_school_id", "estimated_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_LENGTH), primary_key=True)
    # Always the pushing token's teacher, whatever the payload says.
    teacher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teachers.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(str_enum(*CHECK_IN_KINDS, name="kind"))
    captured_at: Mapped[int] = mapped_column(sa.BigInteger, doc="device epoch ms at capture")
    latitude: Mapped[float]
    longitude: Mapped[float]
    accuracy_m: Mapped[float | None]
    coord_system: Mapped[str] = mapped_column(
        str_enum(*COORD_SYSTEMS, name="coord_system"), default="wgs84"
    )
    mock_location: Mapped[bool] = mapped_column(default=False)
    photo_id: Mapped[str | None] = mapped_column(sa.String(CLIENT_ID_LENGTH))
    photo_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    elapsed_ms: Mapped[int | None] = mapped_column(sa.BigInteger, doc="device ms since boot")
    boot_id: Mapped[str | None] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.String(1000), default="")

    # Server-maintained, pulled back to the phone.
    received_at: Mapped[datetime]
    # The server's judgement (see attendance.checkins / evaluation): where and when.
    secondment_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("secondments.id", ondelete="RESTRICT"), index=True
    )
    host_school_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT")
    )
    wgs84_latitude: Mapped[float | None]
    wgs84_longitude: Mapped[float | None]
    distance_m: Mapped[float | None] = mapped_column(doc="beyond the nearest fence; < 0 inside")
    location: Mapped[str | None] = mapped_column(sa.String(16))
    estimated_at: Mapped[datetime | None] = mapped_column(index=True)
    estimate_method: Mapped[str | None] = mapped_column(sa.String(24))
    # expected / uploading / verified / mismatch / invalid (media.models.PHOTO_STATES)
    photo_state: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(
        str_enum(*CHECK_IN_STATUSES, name="status"), default="accepted"
    )
    flags: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    device_pk: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="SET NULL")
    )
    # The device's clock as it stood when the push carrying this row arrived: with the
    # capture's own elapsed-since-boot these let the server estimate the true capture time.
    push_device_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    push_elapsed_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    push_boot_id: Mapped[str | None] = mapped_column(sa.String(64))
    clock_skew_ms: Mapped[int | None] = mapped_column(
        sa.BigInteger, doc="server receive time − device time at push"
    )
    # Digest of the client-written columns as last applied: an identical re-push is a no-op.
    client_digest: Mapped[str] = mapped_column(sa.String(64))


FLAG_DECISIONS = ("accepted", "dismissed")


class FlagReview(IdMixin, Audited, Base):
    """An admin's decision on one flag of a check-in, with a note. Append-only: a second
    review of the same flag adds a row (the latest decides), so the trail is never lost.

    ``accepted``: the flag stands — the punch does not count towards the day.
    ``dismissed``: a false alarm — the punch counts as if it had no such flag.
    """

    __tablename__ = "check_in_flag_reviews"
    __table_args__ = (sa.Index("ix_check_in_flag_reviews_check_in", "check_in_id", "code"),)

    check_in_id: Mapped[str] = mapped_column(sa.ForeignKey("check_ins.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(sa.String(40))
    decision: Mapped[str] = mapped_column(str_enum(*FLAG_DECISIONS, name="decision"))
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
