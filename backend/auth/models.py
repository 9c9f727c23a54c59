"""Users with one role and one scope, the phones they log in from, and refresh tokens.

Refresh tokens are stored only as SHA-256 digests. Each login starts a *family*; every
refresh spends the presented token and issues the next one of the family. Presenting a
spent token again means it was copied: the whole family is revoked (RFC 6819 §5.2.2.3,
OAuth 2.0 Security BCP "refresh token rotation").
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, IdMixin, TimestampMixin, str_enum, utcnow

ROLES = ("teacher", "school_admin", "inspector", "bureau_admin")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Each role carries exactly the anchor its scope is computed from.
        sa.CheckConstraint(
            "(role = 'teacher' AND teacher_id IS NOT NULL AND school_id IS NULL"
            " AND region_id IS NULL)"
            " OR (role = 'school_admin' AND school_id IS NOT NULL AND teacher_id IS NULL"
            " AND region_id IS NULL)"
            " OR (role IN ('inspector', 'bureau_admin') AND region_id IS NOT NULL"
            " AND teacher_id IS NULL AND school_id IS NULL)",
            name="role_scope",
        ),
    )

    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(str_enum(*ROLES, name="role"))
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("teachers.id", ondelete="RESTRICT"), unique=True
    )
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    region_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    display_name: Mapped[str] = mapped_column(sa.String(100), default="")


class Device(IdMixin, Base):
    """A phone (or browser) a user logged in from; revoking it ends all its sessions."""

    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("user_id", "device_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(sa.String(128))
    device_name: Mapped[str] = mapped_column(sa.String(128), default="")
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Access tokens issued before this moment are void (logout, restore after revocation).
    sessions_ended_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class RefreshToken(IdMixin, Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (sa.Index("ix_refresh_tokens_family", "family_id"),)

    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    family_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    device_pk: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Set when this token was exchanged for its successor; a second use is theft.
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(sa.String(64), default="")
