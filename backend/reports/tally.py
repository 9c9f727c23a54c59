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
  job stores them first, so a confirmed report has none);
- ``spot_checks``: the month's random spot checks of the teacher there (双随机, 000 §六):
  ``checked`` (spot checks), ``present``, ``absent``, ``on_leave`` (spot checks where a
  visit found so) and ``discrepancies`` (spot checks whose finding disagrees with the
  attendance record). Co-inspectors file a visit each: a spot check counts once.
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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased

from backend.attendance.day_models import (
    AT_WORK,
    NOT_WORKDAYS,
    MonthlyAssessment,
    TeacherDay,
)
from backend.attendance.request_models import PunchCorrection
from backend.clock import month_bounds
from backend.db import SerializedList, canonical_json, planner_settings
from backend.exchange.models import Secondment, Teacher
from backend.inspection.models import (
    ABSENT_FINDINGS,
    PRESENT_FINDINGS,
    SpotCheckFinding,
    SpotCheckVisit,
)
from backend.org.models import School


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _float(sum_of_parts: sa.ColumnElement[Any]) -> sa.ColumnElement[float]:
    """Sums of half and quarter days as floats (exact in binary), not NUMERIC: the rows
    hold floats, and the database converting them is cheaper than Python."""
    return sa.cast(sum_of_parts, sa.Float)


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


class days_between(sa.sql.expression.FunctionElement[int]):
    """Whole days from the first date to the second (PostgreSQL: ``date - date``)."""

    type = sa.Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"({compiler.process(end, **kw)} - {compiler.process(start, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(end, **kw)})"
        f" - julianday({compiler.process(start, **kw)}) AS INTEGER)"
    )


def _later(column: Any, bound: date) -> sa.ColumnElement[Any]:
    return sa.case((column > bound, column), else_=sa.literal(bound, sa.Date))


def _earlier(column: Any, bound: date) -> sa.ColumnElement[Any]:
    return sa.case((column < bound, column), else_=sa.literal(bound, sa.Date))


def _month_rows(first: date, last: date, school_ids: Sequence[uuid.UUID] | None) -> sa.Select[Any]:
    """One row per (host school, teacher) seconded there in the month, with every count of
    the module docstring but leave by type: one statement whatever the number of schools."""
    ids = None if school_ids is None else list(school_ids)

    def only_listed(column: Any) -> list[sa.ColumnElement[bool]]:
        return [] if ids is None else [column.in_(ids)]

    s = Secondment
    hosted = (
        sa.select(
            s.host_school_id,
            s.teacher_id,
            sa.func.sum(
                days_between(_later(s.start_on, first), _earlier(s.end_on, last)) + 1
            ).label("days"),
        )
        .where(
            s.status == "active",
            s.deleted_at.is_(None),
            s.start_on <= last,
            s.end_on >= first,
            *only_listed(s.host_school_id),
        )
        .group_by(s.host_school_id, s.teacher_id)
        .cte("hosted")
    )
    day = TeacherDay
    part = (2 - day.leave_halves - day.duty_halves) / sa.literal(2.0)
    sums = (
        sa.select(
            day.host_school_id,
            day.teacher_id,
            sa.func.count().label("judged"),
            _count(day.status.not_in(NOT_WORKDAYS)).label("workdays"),
            _float(
                sa.func.sum(
                    sa.case(
                        (day.status.in_(AT_WORK), part),
                        (day.status == "half_day", part / 2),
                        else_=0,
                    )
                )
            ).label("days_at_work"),
            _float(sa.func.sum(sa.case((day.status == "absent", part), else_=0))).label(
                "absent_days"
            ),
            _count(day.status == "present").label("present"),
            _count(day.status.in_(("late", "late_and_early_leave"))).label("late"),
            _count(day.status.in_(("early_leave", "late_and_early_leave"))).label("early_leave"),
            _count(day.status == "half_day").label("half_days"),
            _count(day.status == "absent").label("absent"),
            _count(day.status == "calendar_unpublished").label("unpublished_days"),
            sa.func.sum(day.duty_halves).label("duty_halves"),
            sa.func.sum(day.open_flags).label("open_flags"),
        )
        .where(
            day.day >= first,
            day.day <= last,
            day.deleted_at.is_(None),
            *only_listed(day.host_school_id),
        )
        .group_by(day.host_school_id, day.teacher_id)
        .cte("sums")
    )
    pc = PunchCorrection
    corrections = (
        sa.select(pc.host_school_id, pc.teacher_id, sa.func.count().label("used"))
        .where(
            pc.status == "approved",
            pc.deleted_at.is_(None),
            pc.day >= first,
            pc.day <= last,
            *only_listed(pc.host_school_id),
        )
        .group_by(pc.host_school_id, pc.teacher_id)
        .cte("corrections")
    )
    f, v = SpotCheckFinding, SpotCheckVisit

    def checks_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.count(sa.distinct(sa.case((condition, f.spot_check_id))))

    spot_checks = (
        sa.select(
            f.host_school_id,
            f.teacher_id,
            sa.func.count(sa.distinct(f.spot_check_id)).label("checked"),
            checks_where(f.finding.in_(PRESENT_FINDINGS)).label("present"),
            checks_where(f.finding.in_(ABSENT_FINDINGS)).label("absent"),
            checks_where(f.finding == "on_approved_leave").label("on_leave"),
            # Stored compact (db.stored_json): no discrepancy is exactly "[]".
            checks_where(sa.cast(f.discrepancies, sa.Text) != "[]").label("discrepancies"),
        )
        .join(v, sa.and_(v.id == f.visit_id, v.deleted_at.is_(None)))
        .where(f.day >= first, f.day <= last, *only_listed(f.host_school_id))
        .group_by(f.host_school_id, f.teacher_id)
        .cte("spot_checks")
    )
    home = aliased(School)
    ma = MonthlyAssessment
    return (
        sa.select(
            hosted.c.host_school_id,
            hosted.c.teacher_id,
            hosted.c.days,
            Teacher.staff_no,
            Teacher.name,
            home.id,
            home.name,
            *(sums.c[name] for name in _SUMS),
            corrections.c.used,
            ma.grade,
            sa.cast(ma.dimensions, sa.Text),  # parsed only for the assessed
            ma.comment,
            *(spot_checks.c[name] for name in SPOT_CHECK_COUNTS),
        )
        .join(Teacher, Teacher.id == hosted.c.teacher_id)
        .join(home, home.id == Teacher.home_school_id)
        .outerjoin(
            sums,
            sa.and_(
                sums.c.host_school_id == hosted.c.host_school_id,
                sums.c.teacher_id == hosted.c.teacher_id,
            ),
        )
        .outerjoin(
            corrections,
            sa.and_(
                corrections.c.host_school_id == hosted.c.host_school_id,
                corrections.c.teacher_id == hosted.c.teacher_id,
            ),
        )
        .outerjoin(
            ma,
            sa.and_(
                ma.host_school_id == hosted.c.host_school_id,
                ma.teacher_id == hosted.c.teacher_id,
                ma.month == first,
            ),
        )
        .outerjoin(
            spot_checks,
            sa.and_(
                spot_checks.c.host_school_id == hosted.c.host_school_id,
                spot_checks.c.teacher_id == hosted.c.teacher_id,
            ),
        )
    )


# A row's ``spot_checks``, in the order ``_month_rows`` returns them.
SPOT_CHECK_COUNTS = ("checked", "present", "absent", "on_leave", "discrepancies")


# The per-teacher sums of ``_month_rows``, in the order it returns them.
_SUMS = (
    "judged",
    "workdays",
    "days_at_work",
    "absent_days",
    "present",
    "late",
    "early_leave",
    "half_days",
    "absent",
    "unpublished_days",
    "duty_halves",
    "open_flags",
)

# The month's statements read a tenth of a province's teacher days at a time: compiling
# them (JIT) costs more than it saves; their hashes fit in memory with some room; and each
# is planned for its own values (psycopg prepares a statement run five times, and a generic
# plan cannot use the partial index of leave days nor see how many schools a batch has).
_PLANNER = {"jit": "off", "work_mem": "64MB", "plan_cache_mode": "force_custom_plan"}


def _execute_month_rows(
    session: Session, first: date, last: date, school_ids: Sequence[uuid.UUID] | None
) -> list[Any]:
    with planner_settings(session, **_PLANNER):
        return list(session.execute(_month_rows(first, last, school_ids)))


_ON_LEAVE = TeacherDay.leave_halves > sa.literal_column("0")  # as the partial index says


def _leave_by_type(
    session: Session, first: date, last: date, school_ids: Sequence[uuid.UUID] | None
) -> dict[Key, dict[str, float]]:
    day = TeacherDay
    stmt = (
        sa.select(day.host_school_id, day.teacher_id, day.leave_type, sa.func.sum(day.leave_halves))
        .where(day.day >= first, day.day <= last, day.deleted_at.is_(None), _ON_LEAVE)
        .group_by(day.host_school_id, day.teacher_id, day.leave_type)
    )
    if school_ids is not None:
        stmt = stmt.where(day.host_school_id.in_(list(school_ids)))
    leave: dict[Key, dict[str, float]] = defaultdict(dict)
    with planner_settings(session, **_PLANNER):
        found = list(session.execute(stmt))
    for school_id, teacher_id, leave_type, halves in found:
        leave[(school_id, teacher_id)][str(leave_type)] = halves / 2
    # Sorted here, not in SQL: the database's collation is not Python's (nor the hash's).
    return {key: dict(sorted(types.items())) for key, types in leave.items()}


def tally(session: Session, school_id: uuid.UUID, month: date) -> list[dict[str, Any]]:
    """The month's rows for one host school (see the module docstring)."""
    return tally_schools(session, month, [school_id]).get(school_id, [])


def tally_schools(
    session: Session, month: date, school_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The month's rows of many host schools at once (all when ``school_ids`` is None):
    two statements whatever the number of schools, so a province's month end is a few
    set-based queries rather than thousands of small ones."""
    first, last = month_bounds(month)
    leave = _leave_by_type(session, first, last, school_ids)
    no_leave: dict[str, float] = {}
    # Grades come from a small vocabulary: each distinct text is parsed once.
    parsed: dict[str, dict[str, str]] = {}
    by_school: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for (
        school_id,
        teacher_id,
        days,
        staff_no,
        name,
        home_id,
        home_name,
        judged,
        workdays,
        days_at_work,
        absent_days,
        present,
        late,
        early_leave,
        half_days,
        absent,
        unpublished_days,
        duty_halves,
        open_flags,
        corrections_used,
        grade,
        dimensions,
        comment,
        *checks,
    ) in _execute_month_rows(session, first, last, school_ids):
        at_work = days_at_work or 0.0
        duty = (duty_halves or 0) / 2
        by_school[school_id].append(
            {
                "teacher_id": str(teacher_id),
                "staff_no": staff_no,
                "teacher_name": name,
                "home_school_id": str(home_id),
                "home_school_name": home_name,
                "host_school_id": str(school_id),
                "workdays": workdays or 0,
                "days_at_work": at_work,
                "present": present or 0,
                "late": late or 0,
                "early_leave": early_leave or 0,
                "half_days": half_days or 0,
                "absent": absent or 0,
                "absent_days": absent_days or 0.0,
                "leave_days": leave.get((school_id, teacher_id), no_leave).copy(),
                "official_duty_days": duty,
                "corrections_used": corrections_used or 0,
                "open_flags": open_flags or 0,
                "unpublished_days": unpublished_days or 0,
                "unjudged_days": days - (judged or 0),
                "allowance_days": at_work + duty,
                "assessment": None
                if grade is None
                else {
                    "grade": grade,
                    "dimensions": (
                        parsed.get(dimensions)
                        or parsed.setdefault(
                            dimensions, dict(sorted(json.loads(dimensions).items()))
                        )
                    ).copy(),
                    "comment": comment,
                },
                "spot_checks": dict(zip(SPOT_CHECK_COUNTS, (n or 0 for n in checks), strict=True)),
            }
        )
    # Serialized once here: the same text is hashed and then stored.
    return {
        school_id: SerializedList(sorted(rows, key=lambda r: (r["staff_no"], r["teacher_id"])))
        for school_id, rows in by_school.items()
    }


def content_hash(rows: list[dict[str, Any]]) -> str:
    """sha256 of the rows' canonical JSON: the text the database stores for them."""
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()


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
