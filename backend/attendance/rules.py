"""The attendance rules in force for a school on a day.

A day is judged by the rule version in force on that day in the nearest region that has
one: walking from the school's own region up to the province, the first region with a
version whose ``effective_from`` is on or before the day decides. Where no region has one,
:data:`DEFAULT_RULES` apply — the common practice of Chinese schools (8:00–17:30, ten
minutes' grace each way, three 补卡 a month within seven days), so a new deployment works
before a bureau has configured anything.

Leave types are the region's: each names what it counts as on the day — ``leave``
(on_leave, by type) or ``official_duty`` (the teacher works elsewhere for the school or
the bureau: training, a recall to the home school, official business).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance.calendar import ancestor_paths
from backend.attendance.rule_models import AttendanceRule
from backend.errors import NotFound
from backend.org.models import Region, School

LEAVE_COUNTS_AS = ("leave", "official_duty")


@dataclass(frozen=True)
class LeaveType:
    code: str
    name: str
    counts_as: str = "leave"  # one of LEAVE_COUNTS_AS

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "counts_as": self.counts_as}


# The types of the bureaus' rules (003 §四(三)4: "请假按教育局规定执行").
DEFAULT_LEAVE_TYPES = (
    LeaveType("sick", "病假"),
    LeaveType("personal", "事假"),
    LeaveType("official_duty", "公差", "official_duty"),
    LeaveType("training", "培训", "official_duty"),
    LeaveType("recalled", "召回原校", "official_duty"),
    LeaveType("marriage", "婚假"),
    LeaveType("bereavement", "丧假"),
    LeaveType("maternity", "产假"),
    LeaveType("paternity", "陪产假"),
)


@dataclass(frozen=True)
class Rules:
    """One version of a region's rules (or the defaults), as plain values."""

    workday_start: time = time(8, 0)
    midday: time = time(12, 0)
    workday_end: time = time(17, 30)
    late_grace_min: int = 10
    early_leave_grace_min: int = 10
    half_day_threshold_min: int = 240
    photo_required: bool = False
    corrections_per_month: int = 3
    correction_window_days: int = 7
    late_sync_days: int = 3
    leave_types: tuple[LeaveType, ...] = DEFAULT_LEAVE_TYPES
    # Where these came from: None for the defaults.
    rule_id: uuid.UUID | None = field(default=None, compare=False)
    region_id: uuid.UUID | None = field(default=None, compare=False)
    effective_from: date | None = field(default=None, compare=False)

    def leave_type(self, code: str) -> LeaveType | None:
        return next((t for t in self.leave_types if t.code == code), None)

    def digest_parts(self) -> dict[str, Any]:
        """What a day's verdict depends on (for the day's inputs digest)."""
        return {
            "workday_start": self.workday_start.isoformat(),
            "midday": self.midday.isoformat(),
            "workday_end": self.workday_end.isoformat(),
            "late_grace_min": self.late_grace_min,
            "early_leave_grace_min": self.early_leave_grace_min,
            "half_day_threshold_min": self.half_day_threshold_min,
            "leave_types": [t.as_dict() for t in self.leave_types],
        }


DEFAULT_RULES = Rules()


def from_row(row: AttendanceRule) -> Rules:
    return Rules(
        workday_start=row.workday_start,
        midday=row.midday,
        workday_end=row.workday_end,
        late_grace_min=row.late_grace_min,
        early_leave_grace_min=row.early_leave_grace_min,
        half_day_threshold_min=row.half_day_threshold_min,
        photo_required=row.photo_required,
        corrections_per_month=row.corrections_per_month,
        correction_window_days=row.correction_window_days,
        late_sync_days=row.late_sync_days,
        leave_types=tuple(LeaveType(**t) for t in row.leave_types),
        rule_id=row.id,
        region_id=row.region_id,
        effective_from=row.effective_from,
    )


@dataclass(frozen=True)
class RuleBook:
    """Every rule version that can apply to one school, nearest region first."""

    versions: tuple[tuple[Rules, ...], ...]  # per region, nearest first; each newest first

    def on(self, day: date) -> Rules:
        for region_versions in self.versions:
            for rules in region_versions:
                assert rules.effective_from is not None
                if rules.effective_from <= day:
                    return rules
        return DEFAULT_RULES


def rulebook_for_region_path(session: Session, path: str) -> RuleBook:
    paths = ancestor_paths(path)
    rows = session.execute(
        sa.select(AttendanceRule, Region.path)
        .join(Region, Region.id == AttendanceRule.region_id)
        .where(Region.path.in_(paths))
        .order_by(AttendanceRule.effective_from.desc())
    ).all()
    by_path: dict[str, list[Rules]] = {p: [] for p in paths}
    for row, region_path in rows:
        by_path[region_path].append(from_row(row))
    nearest_first = sorted(paths, key=len, reverse=True)
    return RuleBook(tuple(tuple(by_path[p]) for p in nearest_first))


def rulebook(session: Session, school_id: uuid.UUID) -> RuleBook:
    path = session.scalar(
        sa.select(Region.path)
        .join(School, School.region_id == Region.id)
        .where(School.id == school_id)
    )
    if path is None:
        raise NotFound(f"No school {school_id}")
    return rulebook_for_region_path(session, path)


def rules_on(session: Session, school_id: uuid.UUID, day: date) -> Rules:
    """The rules in force at the school on ``day``."""
    return rulebook(session, school_id).on(day)


__all__ = [
    "DEFAULT_LEAVE_TYPES",
    "DEFAULT_RULES",
    "LEAVE_COUNTS_AS",
    "LeaveType",
    "RuleBook",
    "Rules",
    "from_row",
    "rulebook",
    "rules_on",
]
