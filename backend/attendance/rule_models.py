"""Per-region attendance rules, versioned by the date they take effect.

A region's rules apply to the regions below it unless one of those has its own. Each
version is a row; a day is judged by the version in force on that day (the latest
``effective_from`` on or before it, of the nearest region that has any), so changing the
rules from next month never rewrites how last month was judged. ``rules.py`` resolves them.
"""

from __future__ import annotations

import uuid
from datetime import date, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, TimestampMixin


class AttendanceRule(IdMixin, TimestampMixin, Base):
    __tablename__ = "attendance_rules"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "effective_from"),
        sa.CheckConstraint("workday_start < midday AND midday < workday_end", name="day_order"),
        sa.CheckConstraint(
            "late_grace_min >= 0 AND early_leave_grace_min >= 0 AND half_day_threshold_min >= 0",
            name="minutes_not_negative",
        ),
        sa.CheckConstraint(
            "corrections_per_month >= 0 AND correction_window_days >= 0 AND late_sync_days >= 0",
            name="limits_not_negative",
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("regions.id", ondelete="RESTRICT"))
    effective_from: Mapped[date]
    workday_start: Mapped[time]
    # Where a half-day leave splits the day: the morning ends, the afternoon starts.
    midday: Mapped[time]
    workday_end: Mapped[time]
    late_grace_min: Mapped[int]
    early_leave_grace_min: Mapped[int]
    # A day attended (in the workday) for fewer minutes than this is a half day.
    half_day_threshold_min: Mapped[int]
    photo_required: Mapped[bool]
    corrections_per_month: Mapped[int]
    # How many days back a missed punch may still be corrected (0: the same day only).
    correction_window_days: Mapped[int]
    late_sync_days: Mapped[int]
    # The leave types this region allows, with the Chinese names its forms use.
    leave_types: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
