"""Tallying a host school's month from its stored teacher days, in set-based SQL.

One row per seconded teacher (ordered by staff number, then id, so the same month always
gives the same rows and the same hash). The counting rules are those of
``backend.attendance.views.summarize`` (a test holds the two together):

- ``workdays``: days judged that are neither ``non_workday`` nor ``calendar_unpublished``;
- ``days_at_work``: per workday, the part not on leave or duty (``(2 − halves) / 2``),
  fully for present / late / early_leave / late_and_early_leave, half for ``half_day``;
- ``absent_days``: the same part for ``absent`` days;
- ``leave_days`` by type and ``official_duty_days``: half days / 2;
- ``late``, ``early_leave`` (occurrences), ``half_days``, ``absent`` (days);
- ``corrections_used``: the host school's approved punch corrections that month;
- ``open_flags``: flags on the month's punches nobody reviewed yet;
- ``allowance_days``: ``days_at_work + official_duty_days`` — the days the rural post
  allowance (000 §五(六)) counts: at the post, or away on the school's or bureau's duty;
- ``unjudged_days``: days of the secondment in the month with no stored day (the tally
  job stores them first, so a confirmed report has none).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from backend.attendance.day_models import AT_WORK, NOT_WORKDAYS, MonthlyAssessment, TeacherDay
from backend.attendance.request_models import PunchCorrection
from backend.clock import month_bounds
from backend.exchange.models import Secondment, Teacher
from backend.org.models import School


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def hosted_secondments(
    session: Session, school_id: uuid.UUID, month: date
) -> list[tuple[uuid.UUID, date, date]]:
    """(teacher, first day, last day) of each active secondment at the school that month."""
    first, last = month_bounds(month)
    rows = session.execute(
        sa.select(Secondment.teacher_id, Secondment.start_on, Secondment.end_on).where(
            Secondment.host_school_id == school_id,
            Secondment.status == "active",
            Secondment.deleted_at.is_(None),
            Secondment.start_on <= last,
            Secondment.end_on >= first,
        )
    ).all()
    return [(t, max(first, s), min(last, e)) for t, s, e in rows]


def missing_days(
    session: Session, school_id: uuid.UUID, month: date
) -> dict[uuid.UUID, list[date]]:
    """Days each hosted teacher should have stored that month and has not (none, once the
    nightly close has run)."""
    first, last = month_bounds(month)
    expected: dict[uuid.UUID, set[date]] = defaultdict(set)
    for teacher_id, start, end in hosted_secondments(session, school_id, month):
        expected[teacher_id].update(
            start + timedelta(days=i) for i in range((end - start).days + 1)
        )
    if not expected:
        return {}
    stored = session.execute(
        sa.select(TeacherDay.teacher_id, TeacherDay.day).where(
            TeacherDay.teacher_id.in_(list(expected)),
            TeacherDay.day >= first,
            TeacherDay.day <= last,
            TeacherDay.deleted_at.is_(None),
        )
    ).all()
    for teacher_id, day in stored:
        expected[teacher_id].discard(day)
    return {t: sorted(days) for t, days in expected.items() if days}


Key = tuple[uuid.UUID, uuid.UUID]  # (host school, teacher)


def _hosted(
    session: Session, month: date, school_ids: Sequence[uuid.UUID] | None
) -> dict[Key, int]:
    """Days of each (host school, teacher) secondment in the month."""
    first, last = month_bounds(month)
    stmt = sa.select(
        Secondment.host_school_id, Secondment.teacher_id, Secondment.start_on, Secondment.end_on
    ).where(
        Secondment.status == "active",
        Secondment.deleted_at.is_(None),
        Secondment.start_on <= last,
        Secondment.end_on >= first,
    )
    if school_ids is not None:
        stmt = stmt.where(Secondment.host_school_id.in_(list(school_ids)))
    expected: dict[Key, int] = defaultdict(int)
    for school_id, teacher_id, start, end in session.execute(stmt):
        expected[(school_id, teacher_id)] += (min(last, end) - max(first, start)).days + 1
    return expected


def tally(session: Session, school_id: uuid.UUID, month: date) -> list[dict[str, Any]]:
    """The month's rows for one host school (see the module docstring)."""
    return tally_schools(session, month, [school_id]).get(school_id, [])


def tally_schools(
    session: Session, month: date, school_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The month's rows of many host schools at once (all when ``school_ids`` is None):
    the same few statements whatever the number of schools, so a province's month end is
    a handful of set-based queries rather than thousands of small ones."""
    first, last = month_bounds(month)
    expected = _hosted(session, month, school_ids)
    if not expected:
        return {}
    day = TeacherDay
    part = (2 - day.leave_halves - day.duty_halves) / sa.literal(2.0)
    in_month = sa.and_(day.day >= first, day.day <= last, day.deleted_at.is_(None))
    corrections_in_month = sa.and_(
        PunchCorrection.status == "approved",
        PunchCorrection.deleted_at.is_(None),
        PunchCorrection.day >= first,
        PunchCorrection.day <= last,
    )
    assessed = MonthlyAssessment.month == first
    if school_ids is not None:
        ids = list(school_ids)
        in_month = sa.and_(in_month, day.host_school_id.in_(ids))
        corrections_in_month = sa.and_(
            corrections_in_month, PunchCorrection.host_school_id.in_(ids)
        )
        assessed = sa.and_(assessed, MonthlyAssessment.host_school_id.in_(ids))
    sums = {
        (row.host_school_id, row.teacher_id): row
        for row in session.execute(
            sa.select(
                day.host_school_id,
                day.teacher_id,
                sa.func.count().label("judged"),
                _count(day.status.not_in(NOT_WORKDAYS)).label("workdays"),
                sa.func.sum(
                    sa.case(
                        (day.status.in_(AT_WORK), part),
                        (day.status == "half_day", part / 2),
                        else_=0,
                    )
                ).label("days_at_work"),
                sa.func.sum(sa.case((day.status == "absent", part), else_=0)).label("absent_days"),
                _count(day.status == "present").label("present"),
                _count(day.status.in_(("late", "late_and_early_leave"))).label("late"),
                _count(day.status.in_(("early_leave", "late_and_early_leave"))).label(
                    "early_leave"
                ),
                _count(day.status == "half_day").label("half_days"),
                _count(day.status == "absent").label("absent"),
                _count(day.status == "calendar_unpublished").label("unpublished_days"),
                sa.func.sum(day.duty_halves).label("duty_halves"),
                sa.func.sum(day.open_flags).label("open_flags"),
            )
            .where(in_month)
            .group_by(day.host_school_id, day.teacher_id)
        )
    }
    leave: dict[Key, dict[str, float]] = defaultdict(dict)
    for school_id, teacher_id, leave_type, halves in session.execute(
        sa.select(day.host_school_id, day.teacher_id, day.leave_type, sa.func.sum(day.leave_halves))
        .where(in_month, day.leave_halves > 0)
        .group_by(day.host_school_id, day.teacher_id, day.leave_type)
    ):
        leave[(school_id, teacher_id)][str(leave_type)] = halves / 2
    corrections: dict[Key, int] = {
        (school_id, teacher_id): count
        for school_id, teacher_id, count in session.execute(
            sa.select(PunchCorrection.host_school_id, PunchCorrection.teacher_id, sa.func.count())
            .where(corrections_in_month)
            .group_by(PunchCorrection.host_school_id, PunchCorrection.teacher_id)
        )
    }
    assessments = {
        (a.host_school_id, a.teacher_id): a
        for a in session.scalars(sa.select(MonthlyAssessment).where(assessed))
    }
    home = aliased(School)
    teacher_ids = sa.select(Secondment.teacher_id).where(
        Secondment.status == "active",
        Secondment.deleted_at.is_(None),
        Secondment.start_on <= last,
        Secondment.end_on >= first,
        *([Secondment.host_school_id.in_(list(school_ids))] if school_ids is not None else []),
    )
    teachers = {
        teacher_id: (staff_no, name, home_id, home_name)
        for teacher_id, staff_no, name, home_id, home_name in session.execute(
            sa.select(Teacher.id, Teacher.staff_no, Teacher.name, home.id, home.name)
            .join(home, home.id == Teacher.home_school_id)
            .where(Teacher.id.in_(teacher_ids))
        )
    }
    by_school: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for (school_id, teacher_id), days in expected.items():
        staff_no, name, home_id, home_name = teachers[teacher_id]
        key = (school_id, teacher_id)
        s = sums.get(key)
        days_at_work = float(s.days_at_work or 0) if s else 0.0
        duty = (s.duty_halves or 0) / 2 if s else 0.0
        assessment = assessments.get(key)
        by_school[school_id].append(
            {
                "teacher_id": str(teacher_id),
                "staff_no": staff_no,
                "teacher_name": name,
                "home_school_id": str(home_id),
                "home_school_name": home_name,
                "host_school_id": str(school_id),
                "workdays": int(s.workdays or 0) if s else 0,
                "days_at_work": days_at_work,
                "present": int(s.present or 0) if s else 0,
                "late": int(s.late or 0) if s else 0,
                "early_leave": int(s.early_leave or 0) if s else 0,
                "half_days": int(s.half_days or 0) if s else 0,
                "absent": int(s.absent or 0) if s else 0,
                "absent_days": float(s.absent_days or 0) if s else 0.0,
                "leave_days": dict(sorted(leave[key].items())),
                "official_duty_days": duty,
                "corrections_used": int(corrections.get(key, 0)),
                "open_flags": int(s.open_flags or 0) if s else 0,
                "unpublished_days": int(s.unpublished_days or 0) if s else 0,
                "unjudged_days": days - (int(s.judged) if s else 0),
                "allowance_days": days_at_work + duty,
                "assessment": None
                if assessment is None
                else {
                    "grade": assessment.grade,
                    "dimensions": dict(sorted(assessment.dimensions.items())),
                    "comment": assessment.comment,
                },
            }
        )
    for rows in by_school.values():
        rows.sort(key=lambda r: (r["staff_no"], r["teacher_id"]))
    return dict(by_school)


def content_hash(rows: list[dict[str, Any]]) -> str:
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def diff(previous: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per row — a teacher at a host school (a home report may hold one teacher twice, from
    two host schools in one month) — the fields that changed, and rows added or removed."""

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return row["teacher_id"], row.get("host_school_id", "")

    before = {key(r): r for r in previous}
    after = {key(r): r for r in current}
    changes = []
    for teacher_id, host_school_id in sorted(before.keys() | after.keys()):
        old = before.get((teacher_id, host_school_id))
        new = after.get((teacher_id, host_school_id))
        if old == new:
            continue
        fields = sorted(
            k
            for k in (old or {}).keys() | (new or {}).keys()
            if (old or {}).get(k) != (new or {}).get(k)
        )
        changes.append(
            {
                "teacher_id": teacher_id,
                "host_school_id": host_school_id,
                "teacher_name": (new or old or {}).get("teacher_name", ""),
                "change": "added" if old is None else "removed" if new is None else "changed",
                "fields": {
                    k: {"before": (old or {}).get(k), "after": (new or {}).get(k)} for k in fields
                },
            }
        )
    return changes
