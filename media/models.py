"""Uploads in progress (tus) and the photos they become.

A :class:`Photo` is one client photo id of one uploader. Its bytes are stored once per
sha256 (``blob_key``); two uploaders of the same bytes share the blob, not the row.
Originals are private and immutable; phones and admins see derivatives only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, TimestampMixin, str_enum

UPLOAD_STATUSES = ("in_progress", "complete", "failed", "terminated")
PHOTO_STATUSES = ("pending", "valid", "invalid")
# What a record that names a photo learns about it (pulled back to the phone).
PHOTO_STATES = ("expected", "uploading", "verified", "mismatch", "invalid")


class Upload(IdMixin, TimestampMixin, Base):
    """A tus upload: its declared size and checksum, and how far it has come."""

    __tablename__ = "media_uploads"
    __table_args__ = (
        sa.CheckConstraint("upload_offset >= 0 AND upload_offset <= length", name="offset"),
        # One live upload per photo of a user: a second POST gets the first one's URL.
        sa.Index(
            "uq_media_uploads_live",
            "owner_id",
            "photo_id",
            unique=True,
            sqlite_where=sa.text("status = 'in_progress'"),
            postgresql_where=sa.text("status = 'in_progress'"),
        ),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    photo_id: Mapped[str] = mapped_column(sa.String(64))
    declared_sha256: Mapped[str] = mapped_column(sa.String(64))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    length: Mapped[int] = mapped_column(sa.BigInteger)
    upload_offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(
        str_enum(*UPLOAD_STATUSES, name="status"), default="in_progress"
    )
    failure: Mapped[str] = mapped_column(sa.String(500), default="")
    upload_metadata: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    photo_pk: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("media_photos.id", ondelete="SET NULL")
    )


class Photo(IdMixin, TimestampMixin, Base):
    __tablename__ = "media_photos"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "photo_id"),
        sa.Index("ix_media_photos_owner_phash", "owner_id", "phash"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    photo_id: Mapped[str] = mapped_column(sa.String(64))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    declared_content_type: Mapped[str] = mapped_column(sa.String(100))
    backend: Mapped[str] = mapped_column(sa.String(16))
    blob_key: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(str_enum(*PHOTO_STATUSES, name="status"), default="pending")
    invalid_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    detected_format: Mapped[str | None] = mapped_column(sa.String(16))
    width: Mapped[int | None]
    height: Mapped[int | None]
    # EXIF claims, kept as evidence (never trusted as the truth).
    exif_taken_at: Mapped[str | None] = mapped_column(sa.String(32))
    exif_gps_latitude: Mapped[float | None]
    exif_gps_longitude: Mapped[float | None]
    exif_device_model: Mapped[str | None] = mapped_column(sa.String(100))
    phash: Mapped[str | None] = mapped_column(sa.String(16))
    thumb_key: Mapped[str | None] = mapped_column(sa.String(200))
    view_key: Mapped[str | None] = mapped_column(sa.String(200))
    processed_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None] = mapped_column(doc="when a record first named it")
