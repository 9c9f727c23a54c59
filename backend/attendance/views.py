"""What people look at: a teacher's month, a host school's daily board, a day's history.

Days before today are shown as stored (``daybook``); a past day not stored yet (closed
overnight, not yet) and today are derived live from the same inputs by the same code, and
say so (``final: false`` for today: the day is not over). Days after today show only what
is already known: the calendar and approved leave.

Who sees which days: those whose covering secondment the caller may read (the teacher,
the host school that keeps the attendance, the home school that pays from it, the bureau
above them) — the central policy's ``SECONDMENT`` scope.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.attendance.day_models import AT_WORK, NOT_WORKDAYS, TeacherDay, TeacherDayChange
from backend.attendance.models import CheckIn
from backend.auth.policy import Action, Principal, Resource, scope
from backend.clock import CHINA, month_bounds, today
from backend.db import utcnow
from backend.errors import NotFound
from backend.exchange.models import Secondment, Teacher
from backend.inspection.models import SpotCheckFinding, SpotCheckVisit
from backend.org.models import School


@dataclass
class DayEntry:
    day: date
    final: bool
    stored: bool
    status: str | None
    secondment_id: uuid.UUID | None = None
    host_school_id: uuid.UUID | None = None
    version: int | None = None
    day_kind: str | None = None
    day_name: str = ""
    leave_type: str | None = None
    leave_halves: int = 0
    duty_halves: int = 0
    in_at: datetime | None = None
    out_at: datetime | None = None
    late_minutes: int = 0
    early_minutes: int = 0
    attended_minutes: int = 0
    corrections_applied: int = 0
    open_flags: int = 0
    explanation: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    # What random spot checks (双随机) found that day, with any disagreement with the
    # attendance record. Only visits done: a spot check is secret until then.
    spot_checks: list[dict[str, Any]] = field(default_factory=list)


def _readable_secondments(
    session: Session, principal: Principal, teacher_id: uuid.UUID, first: date, last: date
) -> list[Secondment]:
    return list(
        session.scalars(
            sa.select(Secondment).where(
                scope(principal, Resource.SECONDMENT, Action.READ),
                Secondment.teacher_id == teacher_id,
                Secondment.status == "active",
                Secondment.deleted_at.is_(None),
                Secondment.start_on <= last,
                Secondment.end_on >= first,
            )
        )
    )


def _from_row(row: TeacherDay) -> DayEntry:
    return DayEntry(
        day=row.day,
        final=True,
        stored=True,
        status=row.status,
        secondment_id=row.secondment_id,
        host_school_id=row.host_school_id,
        version=row.version,
        day_kind=row.day_kind,
        day_name=row.day_name,
        leave_type=row.leave_type,
        leave_halves=row.leave_halves,
        duty_halves=row.duty_halves,
        in_at=row.in_at,
        out_at=row.out_at,
        late_minutes=row.late_minutes,
        early_minutes=row.early_minutes,
        attended_minutes=row.attended_minutes,
        corrections_applied=row.corrections_applied,
        open_flags=row.open_flags,
        explanation=list(row.explanation),
    )


def _from_derived(result: daybook.DerivedDay, *, final: bool, known_only: bool) -> DayEntry:
    values = result.values()
    if values is None:
        return DayEntry(day=result.day, final=final, stored=False, status=None)
    entry = DayEntry(day=result.day, final=final, stored=False, **values)
    if known_only and entry.status not in ("non_workday", "on_leave", "official_duty"):
        # A day still ahead: only its calendar and approved leave are known.
        entry.status, entry.explanation = None, []
        entry.in_at = entry.out_at = None
        entry.late_minutes = entry.early_minutes = entry.attended_minutes = 0
    return entry


def _flags_by_day(
    session: Session, teacher_id: uuid.UUID, first: date, last: date
) -> dict[date, list[dict[str, Any]]]:
    """Each day's check-in flags with their latest review (explained, for the teacher)."""
    start = datetime.combine(first, datetime.min.time(), CHINA)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), CHINA)
    rows = session.execute(
        sa.select(CheckIn.id, CheckIn.kind, CheckIn.estimated_at, CheckIn.flags).where(
            CheckIn.teacher_id == teacher_id,
            CheckIn.deleted_at.is_(None),
            CheckIn.estimated_at >= start,
            CheckIn.estimated_at < end,
        )
    ).all()
    flagged = [r for r in rows if r.flags]
    reviews = daybook.latest_reviews(session, (r.id for r in flagged))
    found: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(flagged, key=lambda r: (r.estimated_at, r.id)):
        for f in r.flags:
            review = reviews.get((r.id, f.get("code", "")))
            found[daybook.local_day(r.estimated_at)].append(
                {
                    "check_in_id": r.id,
                    "kind": r.kind,
                    "at": r.estimated_at,
                    "code": f.get("code", ""),
                    "reason": f.get("reason", ""),
                    "review": None
                    if review is None
                    else {
                        "decision": review.decision,
                        "note": review.note,
                        "reviewed_at": review.reviewed_at,
                    },
                }
            )
    return found


def _spot_checks_by_day(
    session: Session, teacher_id: uuid.UUID, first: date, last: date
) -> dict[date, list[dict[str, Any]]]:
    f, v = SpotCheckFinding, SpotCheckVisit
    found: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in session.execute(
        sa.select(f.day, f.spot_check_id, f.finding, f.note, f.discrepancies, v.estimated_at, v.id)
        .join(v, sa.and_(v.id == f.visit_id, v.deleted_at.is_(None)))
        .where(f.teacher_id == teacher_id, f.day >= first, f.day <= last)
        .order_by(v.estimated_at, v.id)
    ):
        found[row.day].append(
            {
                "spot_check_id": row.spot_check_id,
                "visit_id": row.id,
                "at": row.estimated_at,
                "finding": row.finding,
                "note": row.note,
                "discrepancies": list(row.discrepancies or []),
            }
        )
    return found


def teacher_days(
    session: Session, principal: Principal, teacher_id: uuid.UUID, days: list[date]
) -> list[DayEntry]:
    """The teacher's ``days`` as the caller may see them (see the module docstring)."""
    first, last = days[0], days[-1]
    readable = _readable_secondments(session, principal, teacher_id, first, last)
    if not readable and not session.scalar(
        sa.select(
            sa.exists().where(
                Teacher.id == teacher_id, scope(principal, Resource.TEACHER, Action.READ)
            )
        )
    ):
        raise NotFound(f"No teacher {teacher_id}")
    visible = {s.id for s in readable}
    stored = {
        row.day: row
        for row in session.scalars(
            sa.select(TeacherDay).where(
                TeacherDay.teacher_id == teacher_id,
                TeacherDay.day >= first,
                TeacherDay.day <= last,
                TeacherDay.deleted_at.is_(None),
            )
        )
    }
    now = today()
    missing = [d for d in days if d not in stored or d >= now]
    derived = daybook.derive_days(session, teacher_id, missing) if missing else {}
    flags = _flags_by_day(session, teacher_id, first, last)
    checks = _spot_checks_by_day(session, teacher_id, first, last)
    entries: list[DayEntry] = []
    for day in days:
        row = stored.get(day)
        if row is not None and day < now:
            entry = _from_row(row)
        else:
            entry = _from_derived(derived[day], final=day < now, known_only=day > now)
        if entry.secondment_id not in visible:
            entry = DayEntry(day=day, final=entry.final, stored=False, status=None)
        else:
            entry.flags = flags.get(day, [])
            entry.spot_checks = checks.get(day, [])
        entries.append(entry)
    return entries


def month_view(
    session: Session, principal: Principal, teacher_id: uuid.UUID, month: date
) -> dict[str, Any]:
    teacher = session.get(Teacher, teacher_id)
    days = teacher_days(session, principal, teacher_id, daybook.days_between(*month_bounds(month)))
    assert teacher is not None  # teacher_days found it in scope
    return {
        "teacher_id": teacher.id,
        "teacher_name": teacher.name,
        "staff_no": teacher.staff_no,
        "month": month.strftime("%Y-%m"),
        "days": days,
        "summary": summarize(days),
    }


def summarize(days: list[DayEntry]) -> dict[str, Any]:
    """The month in numbers, counting half days as halves (a morning on leave and an
    afternoon present is half a leave day and half a day at work)."""
    judged = [d for d in days if d.status is not None and d.final]
    statuses = Counter(d.status for d in judged)
    leave_by_type: dict[str, float] = defaultdict(float)
    duty = 0.0
    for d in judged:
        if d.leave_type and d.leave_halves:
            leave_by_type[d.leave_type] += d.leave_halves / 2
        duty += d.duty_halves / 2
    workdays = [d for d in judged if d.status not in NOT_WORKDAYS]
    return {
        "workdays": len(workdays),
        "statuses": dict(sorted(statuses.items())),
        # The part of each workday not on leave or duty: whole at work, half on a half day.
        "days_at_work": sum(
            (2 - d.leave_halves - d.duty_halves) / 2 * (0.5 if d.status == "half_day" else 1)
            for d in workdays
            if d.status in AT_WORK or d.status == "half_day"
        ),
        "leave_days": dict(sorted(leave_by_type.items())),
        "official_duty_days": duty,
        "late": sum(1 for d in judged if d.status in ("late", "late_and_early_leave")),
        "early_leave": sum(
            1 for d in judged if d.status in ("early_leave", "late_and_early_leave")
        ),
        "absent": sum(1 for d in judged if d.status == "absent"),
        "corrections_applied": sum(d.corrections_applied for d in judged),
        "open_flags": sum(d.open_flags for d in days),
        "not_final": sum(1 for d in days if d.status is not None and not d.final),
        "unpublished": statuses.get("calendar_unpublished", 0),
    }


def day_changes(
    session: Session, principal: Principal, teacher_id: uuid.UUID, day: date
) -> list[TeacherDayChange]:
    """A stored day's history, oldest first (404 when the caller may not see the day)."""
    row = session.scalars(
        sa.select(TeacherDay).where(
            TeacherDay.teacher_id == teacher_id,
            TeacherDay.day == day,
            scope(principal, Resource.TEACHER_DAY, Action.READ),
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"No stored attendance of teacher {teacher_id} on {day}")
    return list(
        session.scalars(
            sa.select(TeacherDayChange)
            .where(TeacherDayChange.teacher_day_id == row.id)
            .order_by(TeacherDayChange.version)
        )
    )


# --- the host school's daily board ------------------------------------------------------

BOARD_STATES = (
    "not_checked_in",  # today, nothing yet
    "checked_in",  # today, in but not out yet
    "present",
    "late",
    "early_leave",
    "late_and_early_leave",
    "half_day",
    "absent",
    "on_leave",
    "official_duty",
    "non_workday",
    "calendar_unpublished",
)


def _board_state(entry: DayEntry, day_over: bool) -> str:
    if entry.status is None:
        return "not_checked_in"
    if day_over or entry.status in ("on_leave", "official_duty", "non_workday"):
        return entry.status
    if entry.status == "calendar_unpublished":
        return entry.status
    if entry.in_at is None and entry.out_at is None:
        return "not_checked_in"
    if entry.out_at is None:
        return "late" if any(e["code"] == "late" for e in entry.explanation) else "checked_in"
    return entry.status


def board(
    session: Session, principal: Principal, school_id: uuid.UUID, day: date
) -> dict[str, Any]:
    school = session.scalars(
        sa.select(School).where(
            School.id == school_id, scope(principal, Resource.SCHOOL, Action.READ)
        )
    ).one_or_none()
    if school is None:
        raise NotFound(f"No school {school_id}")
    hosted = session.execute(
        sa.select(Secondment, Teacher, School.name)
        .join(Teacher, Teacher.id == Secondment.teacher_id)
        .join(School, School.id == Secondment.home_school_id)
        .where(
            scope(principal, Resource.SECONDMENT, Action.READ),
            Secondment.host_school_id == school_id,
            Secondment.status == "active",
            Secondment.deleted_at.is_(None),
            Secondment.start_on <= day,
            Secondment.end_on >= day,
        )
        .order_by(Teacher.name, Teacher.id)
    ).all()
    day_over = day < today()
    entries: list[dict[str, Any]] = []
    for secondment, teacher, home_name in hosted:
        (entry,) = teacher_days(session, principal, teacher.id, [day])
        entries.append(
            {
                "teacher_id": teacher.id,
                "teacher_name": teacher.name,
                "staff_no": teacher.staff_no,
                "home_school_name": home_name,
                "secondment_id": secondment.id,
                "state": _board_state(entry, day_over),
                "day": entry,
            }
        )
    counts = Counter(e["state"] for e in entries)
    return {
        "school_id": school.id,
        "school_name": school.name,
        "date": day,
        "day_over": day_over,
        "generated_at": utcnow(),
        "counts": dict(sorted(counts.items())),
        "flagged": sum(1 for e in entries if e["day"].open_flags),
        "teachers": entries,
    }
