"""What an inspector found against what the attendance record says.

Each finding of a visit (one teacher, one visit) is compared with that teacher's record of
the visit's day, China time: their live check-ins (by the server's estimated time, never
the phone's), the punch corrections the host school approved, and the approved leave
covering the visit's half day. Where the two disagree the finding carries a discrepancy
``{code, reason}``; the visit summarizes them in its flags (status ``flagged``). Nothing is
judged a lie here: a discrepancy is for the bureau to look into.

The comparison itself is pure (:func:`discrepancies`); :func:`attendance_of` reads the day.
Attendance can change long after the visit (a leave approved late, a punch withdrawn), so
whenever the daybook re-derives a teacher's stored day it signals ``teacher_days_changed``
and the findings at that host school on that day are checked again (:func:`recheck`). The
re-check sends no signal of its own: it changes no day, and so cannot start a loop.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from backend.attendance.request_models import LeaveRequest, PunchCorrection, half_ordinal
from backend.clock import CHINA
from backend.events import teacher_days_changed
from backend.exchange.models import Teacher
from backend.inspection.models import (
    ABSENT_FINDINGS,
    PRESENT_FINDINGS,
    SpotCheckFinding,
    SpotCheckVisit,
)

DISCREPANCY_CODES = (
    "checked_in_but_found_absent",
    "on_leave_but_found_teaching",
    "present_without_check_in",
    "leave_not_on_record",
    "absent_but_leave_approved",
)
# The cause a visit's own teacher_days_changed carries: its findings are already checked.
VISIT_CAUSE = "spot-check visit"


@dataclass(frozen=True)
class Punch:
    """A punch that counts: a live check-in, or an approved punch correction."""

    kind: str  # "in" | "out"
    at: datetime
    ref: str
    source: str  # "check_in" | "correction"


@dataclass(frozen=True)
class Leave:
    ref: str
    leave_type: str
    first_half: int  # half_ordinal, inclusive
    last_half: int


@dataclass(frozen=True)
class Attendance:
    """One teacher's record of one day."""

    punches: tuple[Punch, ...]
    leaves: tuple[Leave, ...]


# --- pure ---------------------------------------------------------------------------------


def _clock(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%H:%M")


def visit_half(at: datetime) -> int:
    """The half day (``half_ordinal``) a moment falls in, China time: before noon is am."""
    local = at.astimezone(CHINA)
    return half_ordinal(local.date(), "am" if local.hour < 12 else "pm")


def open_check_in(punches: Iterable[Punch], at: datetime) -> Punch | None:
    """The 'in' still open at ``at``: the last punch at or before it, if that is an 'in'."""
    before = sorted((p for p in punches if p.at <= at), key=lambda p: (p.at, p.kind, p.ref))
    return before[-1] if before and before[-1].kind == "in" else None


def first_check_in(punches: Iterable[Punch], at: datetime) -> Punch | None:
    ins = sorted((p for p in punches if p.kind == "in" and p.at <= at), key=lambda p: p.at)
    return ins[0] if ins else None


def leave_covering(leaves: Iterable[Leave], at: datetime) -> Leave | None:
    half = visit_half(at)
    return next((lv for lv in leaves if lv.first_half <= half <= lv.last_half), None)


def _describe(p: Punch) -> str:
    what = "check-in" if p.source == "check_in" else "approved punch correction"
    return f"{what} {p.ref} at {_clock(p.at)}"


def discrepancies(finding: str, visit_at: datetime, day: Attendance) -> list[dict[str, str]]:
    """Where ``finding`` (at the visit's estimated time) and the record of the day disagree."""
    found: list[dict[str, str]] = []
    visit = _clock(visit_at)
    leave = leave_covering(day.leaves, visit_at)
    if finding in ABSENT_FINDINGS:
        punch = open_check_in(day.punches, visit_at)
        if punch is not None:
            found.append(
                {
                    "code": "checked_in_but_found_absent",
                    "reason": f"found {finding.replace('_', ' ')} at {visit}, but the"
                    f" {_describe(punch)} was not followed by a check-out before the visit",
                }
            )
    if finding == "absent_without_leave" and leave is not None:
        found.append(
            {
                "code": "absent_but_leave_approved",
                "reason": f"found absent without leave at {visit}, but {leave.leave_type}"
                f" leave {leave.ref} approved by the host school covers that half day",
            }
        )
    if finding in PRESENT_FINDINGS:
        if leave is not None:
            found.append(
                {
                    "code": "on_leave_but_found_teaching",
                    "reason": f"found {finding.replace('_', ' ')} at {visit}, while approved"
                    f" {leave.leave_type} leave {leave.ref} covers that half day",
                }
            )
        if first_check_in(day.punches, visit_at) is None:
            found.append(
                {
                    "code": "present_without_check_in",
                    "reason": f"found {finding.replace('_', ' ')} at {visit}, but there is no"
                    " check-in that day before the visit",
                }
            )
    if finding == "on_approved_leave" and leave is None:
        found.append(
            {
                "code": "leave_not_on_record",
                "reason": f"found on approved leave at {visit}, but no approved leave covers"
                " that half day",
            }
        )
    return found


# --- reading the day ----------------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), CHINA)
    return start, start + timedelta(days=1)


def attendance_of(session: Session, teacher_id: uuid.UUID, day: date) -> Attendance:
    """The teacher's punches that count on ``day`` and the approved leave touching it."""
    start, end = _day_bounds(day)
    check_ins = session.execute(
        sa.select(CheckIn.id, CheckIn.kind, CheckIn.estimated_at).where(
            CheckIn.teacher_id == teacher_id,
            CheckIn.deleted_at.is_(None),
            CheckIn.status != "rejected",
            CheckIn.estimated_at >= start,
            CheckIn.estimated_at < end,
        )
    ).all()
    corrections = session.execute(
        sa.select(PunchCorrection.id, PunchCorrection.kind, PunchCorrection.punched_at).where(
            PunchCorrection.teacher_id == teacher_id,
            PunchCorrection.status == "approved",
            PunchCorrection.deleted_at.is_(None),
            PunchCorrection.day == day,
        )
    ).all()
    leaves = session.execute(
        sa.select(
            LeaveRequest.id,
            LeaveRequest.leave_type,
            LeaveRequest.first_half,
            LeaveRequest.last_half,
        ).where(
            LeaveRequest.teacher_id == teacher_id,
            LeaveRequest.status == "approved",
            LeaveRequest.deleted_at.is_(None),
            LeaveRequest.first_half <= half_ordinal(day, "pm"),
            LeaveRequest.last_half >= half_ordinal(day, "am"),
        )
    ).all()
    punches = [Punch(k, at, i, "check_in") for i, k, at in check_ins if at is not None]
    punches += [Punch(k, at, i, "correction") for i, k, at in corrections]
    return Attendance(
        punches=tuple(punches),
        leaves=tuple(Leave(i, t, first, last) for i, t, first, last in leaves),
    )


# --- storing ------------------------------------------------------------------------------


def check(session: Session, visit: SpotCheckVisit, findings: Sequence[SpotCheckFinding]) -> bool:
    """Cross-check the visit's findings and summarize them on the visit; True if anything
    changed (a finding's discrepancies, or the visit's flags)."""
    changed = False
    if visit.estimated_at is not None:
        for f in findings:
            found = discrepancies(
                f.finding, visit.estimated_at, attendance_of(session, f.teacher_id, f.day)
            )
            if found != f.discrepancies:
                f.discrepancies = found
                changed = True
    return summarize(session, visit, findings) or changed


def summarize(
    session: Session, visit: SpotCheckVisit, findings: Sequence[SpotCheckFinding]
) -> bool:
    """The visit's flags: its own (location, time, refused updates) plus one per
    discrepancy, naming the teacher; ``flagged`` when there is any. True if they changed."""
    names = {
        t.id: f"{t.name} ({t.staff_no})"
        for t in session.scalars(
            sa.select(Teacher).where(Teacher.id.in_([f.teacher_id for f in findings]))
        )
    }
    kept = [f for f in visit.flags if f.get("code") not in DISCREPANCY_CODES]
    derived = [
        {"code": d["code"], "reason": f"{names.get(f.teacher_id, f.teacher_id)}: {d['reason']}"}
        for f in sorted(findings, key=lambda f: str(f.teacher_id))
        for d in f.discrepancies
    ]
    flags = [*kept, *derived]
    status = "flagged" if flags else "accepted"
    if flags == visit.flags and status == visit.status:
        return False
    visit.flags = flags
    visit.status = status
    return True


def recheck(session: Session, pairs: Iterable[tuple[uuid.UUID, date]]) -> int:
    """Cross-check again the findings of live visits at these (host school, day) pairs.
    Returns how many visits changed."""
    wanted = set(pairs)
    if not wanted:
        return 0
    by_visit: dict[str, list[SpotCheckFinding]] = defaultdict(list)
    for school_id, day in sorted(wanted, key=lambda p: (str(p[0]), p[1])):
        rows = session.scalars(
            sa.select(SpotCheckFinding).where(
                SpotCheckFinding.host_school_id == school_id, SpotCheckFinding.day == day
            )
        )
        for row in rows:
            by_visit[row.visit_id].append(row)
    if not by_visit:
        return 0
    changed = 0
    for visit in session.scalars(
        sa.select(SpotCheckVisit).where(
            SpotCheckVisit.id.in_(sorted(by_visit)), SpotCheckVisit.deleted_at.is_(None)
        )
    ):
        # The visit's other findings (other days cannot occur: one visit, one day) are
        # all in by_visit; summarize needs them all.
        changed += check(session, visit, by_visit[visit.id])
    return changed


@teacher_days_changed.connect
def _on_days_changed(session: Any, days: set[tuple[uuid.UUID, date]], cause: str) -> None:
    """Attendance changed after the visit (a late punch, a leave approved or withdrawn…)."""
    if cause.startswith(VISIT_CAUSE):
        return  # sent by a visit whose findings were just checked
    recheck(session, days)
