"""Attendance's background jobs: re-deriving stored teacher days after an input that many
teachers share has changed (a region's rules, its calendar, a school's exceptions), and
the nightly close that stores each day once it is over.

Re-deriving takes the change journal's lock (see ``daybook``), which every phone's push
waits for; so a region-wide change fans out into one small unit of work per teacher
instead of one transaction over a whole province. Every job here only re-derives days,
which is deterministic: running one twice changes nothing the second time.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.attendance.day_models import TeacherDay
from backend.clock import today
from backend.jobs import enqueue_after_commit, job
from backend.org.models import Region, School

RULES_CHANGED = "attendance rules changed"
# How many past days the nightly close re-derives: a day nobody punched on becomes an
# absence there, and a week covers a server that was down over a long holiday weekend.
CLOSE_DAYS_BACK = 7


def _stored_days(
    region_path: str, start: str, end: str, school_id: str | None = None
) -> tuple[sa.ColumnElement[bool], ...]:
    """Conditions on TeacherDay (joined to its School and that school's Region): live
    stored days in [start, end] (ISO dates) kept by a host school of the region's subtree
    (or by that one school)."""
    conditions = (
        Region.path.startswith(region_path, autoescape=True),
        TeacherDay.day >= date.fromisoformat(start),
        TeacherDay.day <= date.fromisoformat(end),
        TeacherDay.deleted_at.is_(None),
    )
    if school_id is not None:
        return (*conditions, TeacherDay.host_school_id == uuid.UUID(school_id))
    return conditions


def _days_query(columns: tuple[Any, ...], conditions: tuple[sa.ColumnElement[bool], ...]) -> Any:
    return (
        sa.select(*columns)
        .join(School, School.id == TeacherDay.host_school_id)
        .join(Region, Region.id == School.region_id)
        .where(*conditions)
    )


def _region_path(session: Session, region_id: str) -> str | None:
    return session.scalar(sa.select(Region.path).where(Region.id == uuid.UUID(region_id)))


@job
def recompute_region_days(
    session: Session,
    region_id: str,
    start: str,
    end: str,
    cause: str = RULES_CHANGED,
    school_id: str | None = None,
) -> None:
    """Queue :func:`recompute_teacher_days` for each teacher with stored days in [start,
    end] (ISO dates) at a school of the region's subtree, or at ``school_id`` only (the
    region's rules or calendar changed, or the school's exceptions)."""
    path = _region_path(session, region_id)
    if path is None:  # the region was removed meanwhile: no days to re-derive
        return
    teacher_ids = session.scalars(
        _days_query((TeacherDay.teacher_id,), _stored_days(path, start, end, school_id))
        .distinct()
        .order_by(TeacherDay.teacher_id)
    )
    for teacher_id in teacher_ids:
        enqueue_after_commit(
            session,
            recompute_teacher_days,
            teacher_id=str(teacher_id),
            region_id=region_id,
            start=start,
            end=end,
            cause=cause,
            school_id=school_id,
        )


@job
def recompute_teacher_days(
    session: Session,
    teacher_id: str,
    region_id: str,
    start: str,
    end: str,
    cause: str = RULES_CHANGED,
    school_id: str | None = None,
) -> None:
    """Re-derive the teacher's stored days in [start, end] kept by a school of the region's
    subtree (or by ``school_id``), with ``cause``."""
    path = _region_path(session, region_id)
    if path is None:
        return
    teacher = uuid.UUID(teacher_id)
    days = session.scalars(
        _days_query(
            (TeacherDay.day,),
            (*_stored_days(path, start, end, school_id), TeacherDay.teacher_id == teacher),
        )
    )
    daybook.recompute(session, teacher, list(days), cause)


def calendar_changed(
    session: Session,
    region_id: uuid.UUID,
    start: date,
    end: date,
    what: str,
    school_id: uuid.UUID | None = None,
) -> None:
    """Queue the re-derivation of stored days a calendar change touches (only days already
    over are stored; later ones are derived when they come)."""
    last = min(end, today() - timedelta(days=1))
    if last < start:
        return
    enqueue_after_commit(
        session,
        recompute_region_days,
        region_id=str(region_id),
        start=start.isoformat(),
        end=last.isoformat(),
        cause=f"calendar changed: {what}"[:200],
        school_id=None if school_id is None else str(school_id),
    )


# Teachers per nightly-close job: each job is one transaction holding the journal's lock
# (which phones' pushes wait for), so it stays short; a province is a few hundred jobs.
CLOSE_BATCH = 100


@job
def close_days(session: Session, through: str | None = None) -> None:
    """The nightly close: queue the storing of the days up to ``through`` (default:
    yesterday, China time) of every seconded teacher, :data:`CLOSE_DAYS_BACK` days back,
    in batches of :data:`CLOSE_BATCH` teachers."""
    last = date.fromisoformat(through) if through else today() - timedelta(days=1)
    teachers = daybook.closing_teachers(session, last - timedelta(days=CLOSE_DAYS_BACK), last)
    for i in range(0, len(teachers), CLOSE_BATCH):
        enqueue_after_commit(
            session,
            close_teacher_days,
            teacher_ids=[str(t) for t in teachers[i : i + CLOSE_BATCH]],
            through=last.isoformat(),
        )


@job
def close_teacher_days(session: Session, teacher_ids: list[str], through: str) -> None:
    daybook.close_days(
        session,
        date.fromisoformat(through),
        CLOSE_DAYS_BACK,
        [uuid.UUID(t) for t in teacher_ids],
    )
