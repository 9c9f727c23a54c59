"""Teacher days: gather each day's inputs, derive it (``days.derive``), store it, and keep
the history of every change.

Whatever changes an input — a punch that syncs a week late, a correction approved, a
leave cancelled, a flag reviewed, a secondment moved, the calendar or the rules — calls
:func:`recompute` for the days it touches, in the same transaction. A day is stored only
while an active secondment covers it (its host school keeps the attendance, 003
§四(三)4); a day that loses its secondment becomes a tombstone, so phones drop it.

Concurrency: :func:`recompute` takes the change journal's serial (and its lock) before it
reads anything. Every writer of an input is journaled, so none can commit between this
read and this write, and a writer that commits first is seen; the lock is always taken
after any row locks its caller holds, never before, which keeps the order deadlock-free.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance import days as d
from backend.attendance.calendar import CalendarNotPublished, DayInfo, workdays
from backend.attendance.day_models import TeacherDay, TeacherDayChange
from backend.attendance.models import CheckIn, FlagReview
from backend.attendance.request_models import LeaveRequest, PunchCorrection, half_ordinal
from backend.attendance.rules import RuleBook, rulebook
from backend.clock import CHINA, today
from backend.db import journal_serial, new_id, utcnow
from backend.events import teacher_days_changed
from backend.exchange.models import Secondment

# Columns of a stored day that make up its verdict (what a change records).
VERDICT_FIELDS = (
    "secondment_id",
    "host_school_id",
    "status",
    "day_kind",
    "day_name",
    "leave_type",
    "leave_halves",
    "duty_halves",
    "in_at",
    "out_at",
    "late_minutes",
    "early_minutes",
    "attended_minutes",
    "corrections_applied",
    "open_flags",
    "explanation",
)


@dataclass(frozen=True)
class DerivedDay:
    day: date
    secondment: Secondment | None
    inputs: d.DayInputs | None
    verdict: d.DayVerdict | None

    def values(self) -> dict[str, Any] | None:
        """The stored columns of this verdict (None: no secondment, no day)."""
        if self.secondment is None or self.verdict is None or self.inputs is None:
            return None
        v = self.verdict
        return {
            "secondment_id": self.secondment.id,
            "host_school_id": self.secondment.host_school_id,
            "status": v.status,
            "day_kind": self.inputs.day_kind,
            "day_name": self.inputs.day_name,
            "leave_type": v.leave_type,
            "leave_halves": v.leave_halves,
            "duty_halves": v.duty_halves,
            "in_at": v.in_at,
            "out_at": v.out_at,
            "late_minutes": v.late_minutes,
            "early_minutes": v.early_minutes,
            "attended_minutes": v.attended_minutes,
            "corrections_applied": v.corrections_applied,
            "open_flags": v.open_flags,
            "explanation": [r.as_dict() for r in v.explanation],
        }

    def digest(self) -> str:
        parts = {
            "secondment": str(self.secondment.id) if self.secondment else None,
            "inputs": self.inputs.digest_parts() if self.inputs else None,
        }
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def local_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), CHINA)


# --- gathering inputs -------------------------------------------------------------------


def _calendar(session: Session, school_id: uuid.UUID, days: list[date]) -> dict[date, DayInfo]:
    """The school's verdict on each day; days of an unpublished year are left out."""
    found: dict[date, DayInfo] = {}
    by_year: dict[int, list[date]] = defaultdict(list)
    for day in days:
        by_year[day.year].append(day)
    for year_days in by_year.values():
        try:
            infos = workdays(session, school_id, min(year_days), max(year_days))
        except CalendarNotPublished:
            continue
        wanted = set(year_days)
        found.update((i.day, i) for i in infos if i.day in wanted)
    return found


# Check-in ids per IN (…) list: well under every backend's bound-parameter limit.
_CHUNK = 500


def latest_reviews(
    session: Session, check_in_ids: Iterable[str]
) -> dict[tuple[str, str], FlagReview]:
    """The latest review of each reviewed (check-in id, flag code): the last by
    (reviewed_at, id). Reviews are append-only, so this is the one that decides."""
    ids = sorted(set(check_in_ids))
    latest: dict[tuple[str, str], FlagReview] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.scalars(
            sa.select(FlagReview)
            .where(FlagReview.check_in_id.in_(ids[start : start + _CHUNK]))
            .order_by(FlagReview.reviewed_at, FlagReview.id)
        )
        for review in rows:
            latest[(review.check_in_id, review.code)] = review
    return latest


def _punches(
    session: Session, teacher_id: uuid.UUID, first: date, last: date
) -> tuple[dict[date, list[d.DayPunch]], dict[date, list[str]], dict[date, int]]:
    """Counted punches per day, the ids left out by an upheld flag, and open flags."""
    check_ins = session.execute(
        sa.select(CheckIn.id, CheckIn.kind, CheckIn.estimated_at, CheckIn.flags).where(
            CheckIn.teacher_id == teacher_id,
            CheckIn.deleted_at.is_(None),
            CheckIn.status != "rejected",
            CheckIn.estimated_at >= _day_start(first),
            CheckIn.estimated_at < _day_start(last + timedelta(days=1)),
        )
    ).all()
    reviews = {
        key: review.decision
        for key, review in latest_reviews(session, (c.id for c in check_ins)).items()
    }
    counted: dict[date, list[d.DayPunch]] = defaultdict(list)
    excluded: dict[date, list[str]] = defaultdict(list)
    open_flags: dict[date, int] = defaultdict(int)
    for c in check_ins:
        day = local_day(c.estimated_at)
        codes = [f.get("code", "") for f in c.flags]
        decisions = [reviews.get((c.id, code)) for code in codes]
        open_flags[day] += sum(1 for x in decisions if x is None)
        if "accepted" in decisions:
            excluded[day].append(c.id)
        else:
            counted[day].append(d.DayPunch(c.kind, c.estimated_at, "check_in", c.id))
    corrections = session.execute(
        sa.select(
            PunchCorrection.id,
            PunchCorrection.kind,
            PunchCorrection.punched_at,
            PunchCorrection.day,
        ).where(
            PunchCorrection.teacher_id == teacher_id,
            PunchCorrection.status == "approved",
            PunchCorrection.deleted_at.is_(None),
            PunchCorrection.day >= first,
            PunchCorrection.day <= last,
        )
    ).all()
    for c in corrections:
        counted[c.day].append(d.DayPunch(c.kind, c.punched_at, "correction", c.id))
    return counted, excluded, open_flags


def _leaves(session: Session, teacher_id: uuid.UUID, first: date, last: date) -> list[LeaveRequest]:
    return list(
        session.scalars(
            sa.select(LeaveRequest).where(
                LeaveRequest.teacher_id == teacher_id,
                LeaveRequest.status == "approved",
                LeaveRequest.deleted_at.is_(None),
                LeaveRequest.first_half <= half_ordinal(last, "pm"),
                LeaveRequest.last_half >= half_ordinal(first, "am"),
            )
        )
    )


def _day_leaves(day: date, leaves: list[LeaveRequest], book: RuleBook) -> tuple[d.DayLeave, ...]:
    rules = book.on(day)
    morning, afternoon = half_ordinal(day, "am"), half_ordinal(day, "pm")
    found = []
    for lv in leaves:
        covers_morning = lv.first_half <= morning <= lv.last_half
        covers_afternoon = lv.first_half <= afternoon <= lv.last_half
        if not (covers_morning or covers_afternoon):
            continue
        kind = rules.leave_type(lv.leave_type)
        found.append(
            d.DayLeave(
                ref=lv.id,
                leave_type=lv.leave_type,
                type_name=kind.name if kind else lv.leave_type,
                counts_as=kind.counts_as if kind else "leave",
                morning=covers_morning,
                afternoon=covers_afternoon,
            )
        )
    return tuple(found)


def derive_days(
    session: Session, teacher_id: uuid.UUID, days: Iterable[date]
) -> dict[date, DerivedDay]:
    """Each day's verdict from its current inputs, nothing stored (see :func:`recompute`)."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    first, last = wanted[0], wanted[-1]
    secondments = list(
        session.scalars(
            sa.select(Secondment).where(
                Secondment.teacher_id == teacher_id,
                Secondment.status == "active",
                Secondment.deleted_at.is_(None),
                Secondment.start_on <= last,
                Secondment.end_on >= first,
            )
        )
    )
    covering = {
        day: next((s for s in secondments if s.start_on <= day <= s.end_on), None) for day in wanted
    }
    by_school: dict[uuid.UUID, list[date]] = defaultdict(list)
    for day, s in covering.items():
        if s is not None:
            by_school[s.host_school_id].append(day)
    calendars = {school: _calendar(session, school, ds) for school, ds in by_school.items()}
    books = {school: rulebook(session, school) for school in by_school}
    counted, excluded, open_flags = _punches(session, teacher_id, first, last)
    leaves = _leaves(session, teacher_id, first, last)
    derived: dict[date, DerivedDay] = {}
    for day, secondment in covering.items():
        if secondment is None:
            derived[day] = DerivedDay(day, None, None, None)
            continue
        school = secondment.host_school_id
        info = calendars[school].get(day)
        book = books[school]
        inputs = d.DayInputs(
            day=day,
            published=info is not None,
            workday=info.workday if info else False,
            day_kind=info.kind if info else "unpublished",
            day_name=info.name if info else "",
            rules=book.on(day),
            punches=tuple(sorted(counted.get(day, []), key=lambda p: (p.at, p.ref))),
            leaves=_day_leaves(day, leaves, book),
            excluded=tuple(sorted(excluded.get(day, []))),
            open_flags=open_flags.get(day, 0),
        )
        derived[day] = DerivedDay(day, secondment, inputs, d.derive(inputs))
    return derived


# --- storing ----------------------------------------------------------------------------


def _snapshot(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A change's before/after, as JSON."""
    if values is None:
        return None
    return {
        k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v)
        for k, v in values.items()
    }


def _stored_values(row: TeacherDay) -> dict[str, Any] | None:
    if row.deleted_at is not None:
        return None
    return {name: getattr(row, name) for name in VERDICT_FIELDS}


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return _snapshot(a) == _snapshot(b)


def recompute(
    session: Session, teacher_id: uuid.UUID, days: Iterable[date], cause: str
) -> list[TeacherDay]:
    """Re-derive the teacher's ``days`` from their current inputs (punches, approved
    corrections and leave, flag reviews, the calendar, the rules) and store any change
    with ``cause`` (e.g. "leave request L1 approved"). Call it in the same transaction as
    the change, after making it. Only days before today (China time) are stored; a day
    outside every active secondment has no row (a row that loses its secondment becomes a
    tombstone). Returns the rows that changed."""
    # A day is judged once it is over; until then views derive it live (nothing stored).
    wanted = sorted(x for x in set(days) if x < today())
    if not wanted:
        return []
    session.flush()
    journal_serial(session)  # see the module docstring: read only under the journal's lock
    derived = derive_days(session, teacher_id, wanted)
    stored = {
        row.day: row
        for row in session.scalars(
            sa.select(TeacherDay).where(
                TeacherDay.teacher_id == teacher_id, TeacherDay.day.in_(wanted)
            )
        )
    }
    now = utcnow()
    changed: list[TeacherDay] = []
    touched: set[tuple[uuid.UUID, date]] = set()  # (host school, day), before and after
    for day in wanted:
        result = derived[day]
        new = result.values()
        row = stored.get(day)
        if row is None and new is None:
            continue
        digest = result.digest()
        if row is None:
            assert new is not None
            row = TeacherDay(
                id=new_id(),  # known now: the change row refers to it without a flush each
                teacher_id=teacher_id,
                day=day,
                inputs_digest=digest,
                version=1,
                computed_at=now,
                **new,
            )
            session.add(row)
            _record(session, row, None, new, cause, now)
            changed.append(row)
            touched.add((row.host_school_id, day))
            continue
        old = _stored_values(row)
        if _same(old, new):
            row.inputs_digest = digest
            continue
        touched.add((row.host_school_id, day))
        row.version += 1
        row.inputs_digest = digest
        row.computed_at = now
        if new is None:
            row.deleted_at = now
        else:
            row.deleted_at = None
            for name, value in new.items():
                setattr(row, name, value)
        _record(session, row, old, new, cause, now)
        changed.append(row)
        touched.add((row.host_school_id, day))
    session.flush()
    if touched:
        teacher_days_changed.send(session, days=touched, cause=cause)
    return changed


def _record(
    session: Session,
    row: TeacherDay,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    cause: str,
    at: datetime,
) -> None:
    session.add(
        TeacherDayChange(
            teacher_day_id=row.id,
            version=row.version,
            changed_at=at,
            cause=cause[:200],
            before=_snapshot(before),
            after=_snapshot(after) or {"status": None, "reason": "no active secondment"},
        )
    )


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def stored_days(session: Session, teacher_id: uuid.UUID, start: date, end: date) -> list[date]:
    """Days of the teacher with a row (live or tombstone) from ``start`` to ``end``."""
    return list(
        session.scalars(
            sa.select(TeacherDay.day).where(
                TeacherDay.teacher_id == teacher_id,
                TeacherDay.day >= start,
                TeacherDay.day <= end,
            )
        )
    )


def closing_teachers(session: Session, start: date, through: date) -> list[uuid.UUID]:
    """Teachers with an active secondment on some day from ``start`` to ``through``."""
    return list(
        session.scalars(
            sa.select(Secondment.teacher_id)
            .where(
                Secondment.status == "active",
                Secondment.deleted_at.is_(None),
                Secondment.start_on <= through,
                Secondment.end_on >= start,
            )
            .distinct()
            .order_by(Secondment.teacher_id)
        )
    )


def close_days(
    session: Session,
    through: date,
    days_back: int,
    teacher_ids: Iterable[uuid.UUID] | None = None,
) -> int:
    """Store the days from ``through − days_back`` to ``through`` of every seconded teacher
    (or of ``teacher_ids``): the nightly close, where a day nobody punched on becomes an
    absence. Idempotent: days already right are left alone. Returns how many changed."""
    start = through - timedelta(days=days_back)
    teachers = closing_teachers(session, start, through) if teacher_ids is None else teacher_ids
    return sum(
        len(recompute(session, teacher_id, days_between(start, through), "day closed"))
        for teacher_id in teachers
    )
