"""Deriving one teacher-day's attendance from its inputs.

Pure: :class:`DayInputs` in, :class:`DayVerdict` out; no database, no clock. The daybook
gathers the inputs and stores the verdict; the same inputs always give the same verdict,
which is what lets a day be recomputed whenever any input changes.

The rules, in the order they apply
----------------------------------
1. The holiday notice for the day's year is not published → ``calendar_unpublished``:
   nothing can be judged (the day is re-derived when the bureau publishes it).
2. Not a workday (weekend, public holiday, vacation, a school closure) → ``non_workday``,
   whatever was punched. A 调休 weekend day is a workday and is judged like any other.
3. Approved leave covers halves of the day (morning: start–midday, afternoon:
   midday–end). Both halves covered → ``on_leave`` (with the leave type) or, when the type
   counts as official duty (training, a recall to the home school…), ``official_duty``.
4. Otherwise the uncovered part of the workday is expected, and the day's counted punches
   judge it. Counted punches are the day's check-ins (by their *estimated* time, China
   time) that were not withdrawn and whose flags no admin accepted, plus approved punch
   corrections at their stated time. The first check-in ("in") and the last check-out
   ("out") make the attended span.

   - no punch at all → ``absent``;
   - only one of them (缺卡) → ``half_day``: the teacher was there, for how long is
     unknown; a punch correction (补卡) completes the day;
   - a span entirely outside the expected hours → ``absent``;
   - attended minutes (the span's overlap with the expected hours) below the half-day
     threshold → ``half_day``; the threshold shrinks in proportion when leave covers half
     the day;
   - otherwise late when arriving more than ``late_grace_min`` after the expected start,
     early when leaving more than ``early_leave_grace_min`` before the expected end:
     ``present``, ``late``, ``early_leave`` or ``late_and_early_leave``.

   A day with half on leave keeps the leave in ``leave_type``/``leave_halves``
   (``duty_halves`` for official duty) beside the status of the half that was expected,
   so a month adds up: half a day of leave plus half a day present.

Minutes are whole minutes, rounded down (a teacher 10 min 59 s late is 10 minutes late).
Every verdict carries its explanation: codes with a sentence each, for the teacher's month
and the admin's board.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from backend.attendance.rules import Rules
from backend.clock import CHINA

PUNCH_SOURCES = ("check_in", "correction")


@dataclass(frozen=True)
class DayPunch:
    kind: str  # "in" | "out"
    at: datetime  # aware
    source: str  # one of PUNCH_SOURCES
    ref: str  # the check-in's or correction's id


@dataclass(frozen=True)
class DayLeave:
    ref: str
    leave_type: str
    type_name: str
    counts_as: str  # "leave" | "official_duty"
    morning: bool
    afternoon: bool


@dataclass(frozen=True)
class DayInputs:
    day: date
    published: bool
    workday: bool
    day_kind: str
    day_name: str
    rules: Rules
    punches: tuple[DayPunch, ...] = ()
    leaves: tuple[DayLeave, ...] = ()
    # Punches left out because an admin accepted one of their flags (ids), and flags on
    # the day's punches nobody reviewed yet: reported, not judged.
    excluded: tuple[str, ...] = ()
    open_flags: int = 0

    def digest_parts(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "published": self.published,
            "workday": self.workday,
            "day_kind": self.day_kind,
            "day_name": self.day_name,
            "rules": self.rules.digest_parts(),
            "punches": sorted(
                [p.kind, p.at.astimezone(CHINA).isoformat(), p.source, p.ref] for p in self.punches
            ),
            "leaves": sorted(
                [lv.ref, lv.leave_type, lv.counts_as, lv.morning, lv.afternoon]
                for lv in self.leaves
            ),
            "excluded": sorted(self.excluded),
            "open_flags": self.open_flags,
        }


@dataclass(frozen=True)
class Reason:
    code: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class DayVerdict:
    status: str
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
    explanation: tuple[Reason, ...] = field(default=())


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, CHINA)


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%H:%M")


def _leave_cover(inputs: DayInputs) -> tuple[DayLeave | None, DayLeave | None]:
    """The leave covering each half (the first by id when two do: deterministic)."""
    ordered = sorted(inputs.leaves, key=lambda lv: lv.ref)
    morning = next((lv for lv in ordered if lv.morning), None)
    afternoon = next((lv for lv in ordered if lv.afternoon), None)
    return morning, afternoon


def derive(inputs: DayInputs) -> DayVerdict:
    common: dict[str, Any] = {"open_flags": inputs.open_flags}
    notes: list[Reason] = []
    if inputs.excluded:
        notes.append(
            Reason(
                "punch_excluded",
                f"{len(inputs.excluded)} check-in(s) not counted: an admin upheld their flags",
            )
        )
    if inputs.open_flags:
        notes.append(Reason("open_flags", f"{inputs.open_flags} flag(s) on this day await review"))
    if not inputs.published:
        return DayVerdict(
            "calendar_unpublished",
            explanation=(
                Reason(
                    "calendar_unpublished",
                    f"the {inputs.day.year} holiday calendar is not published yet",
                ),
            ),
            **common,
        )
    if not inputs.workday:
        what = inputs.day_name or inputs.day_kind
        return DayVerdict(
            "non_workday", explanation=(Reason("non_workday", f"not a workday ({what})"),), **common
        )
    rules = inputs.rules
    morning, afternoon = _leave_cover(inputs)
    covered = [lv for lv in (morning, afternoon) if lv is not None]
    leave_halves = sum(1 for lv in covered if lv.counts_as == "leave")
    duty_halves = len(covered) - leave_halves
    first_leave = next((lv for lv in covered if lv.counts_as == "leave"), None)
    primary = first_leave or (covered[0] if covered else None)
    leave_type = primary.leave_type if primary else None
    common.update(leave_type=leave_type, leave_halves=leave_halves, duty_halves=duty_halves)
    for lv in dict.fromkeys(covered):
        half = (
            "all day" if lv.morning and lv.afternoon else ("morning" if lv.morning else "afternoon")
        )
        code = "official_duty" if lv.counts_as == "official_duty" else "on_leave"
        notes.append(Reason(code, f"{lv.type_name} ({half}), request {lv.ref}"))
    if morning is not None and afternoon is not None:
        status = "on_leave" if leave_halves else "official_duty"
        return DayVerdict(status, explanation=tuple(notes), **common)

    start = _at(inputs.day, rules.midday if morning else rules.workday_start)
    end = _at(inputs.day, rules.midday if afternoon else rules.workday_end)
    full = _minutes(_at(inputs.day, rules.workday_end) - _at(inputs.day, rules.workday_start))
    expected = _minutes(end - start)
    threshold = rules.half_day_threshold_min * expected // full if full else 0

    ins = sorted(p.at for p in inputs.punches if p.kind == "in")
    in_at = ins[0] if ins else None
    outs = sorted(
        p.at for p in inputs.punches if p.kind == "out" and (in_at is None or p.at > in_at)
    )
    out_at = outs[-1] if outs else None
    used = {p.ref for p in inputs.punches if p.source == "correction" and p.at in (in_at, out_at)}
    for ref in sorted(used):
        notes.append(Reason("correction_applied", f"approved punch correction {ref} counted"))
    common.update(in_at=in_at, out_at=out_at, corrections_applied=len(used))
    late = _minutes(in_at - start) if in_at else 0
    early = _minutes(end - out_at) if out_at else 0
    common.update(late_minutes=late, early_minutes=early)
    window = f"{_hhmm(start)}–{_hhmm(end)}"

    if in_at is None and out_at is None:
        notes.insert(0, Reason("no_punches", f"no check-in or check-out counted ({window})"))
        return DayVerdict("absent", explanation=tuple(notes), **common)
    if in_at is None or out_at is None:
        assert in_at is not None or out_at is not None
        if in_at is None:
            assert out_at is not None
            missing = Reason(
                "missing_check_in",
                f"checked out at {_hhmm(out_at)} but no check-in: a half day until a punch"
                " correction (补卡) completes it",
            )
        else:
            missing = Reason(
                "missing_check_out",
                f"checked in at {_hhmm(in_at)} but no check-out: a half day until a punch"
                " correction (补卡) completes it",
            )
        notes.insert(0, missing)
        return DayVerdict("half_day", explanation=tuple(notes), **common)

    attended = _minutes(min(out_at, end) - max(in_at, start))
    common.update(attended_minutes=attended)
    if attended == 0:
        notes.insert(
            0,
            Reason(
                "outside_workday",
                f"punched {_hhmm(in_at)}–{_hhmm(out_at)}, outside the expected {window}",
            ),
        )
        return DayVerdict("absent", explanation=tuple(notes), **common)
    if attended < threshold:
        notes.insert(
            0,
            Reason(
                "short_day",
                f"attended {attended} min of {window}, under the half-day threshold of"
                f" {threshold} min",
            ),
        )
        return DayVerdict("half_day", explanation=tuple(notes), **common)
    is_late = late > rules.late_grace_min
    is_early = early > rules.early_leave_grace_min
    lead: list[Reason] = []
    if is_late:
        lead.append(
            Reason(
                "late",
                f"checked in at {_hhmm(in_at)}, {late} min after {_hhmm(start)}"
                f" (grace {rules.late_grace_min} min)",
            )
        )
    if is_early:
        lead.append(
            Reason(
                "early_leave",
                f"checked out at {_hhmm(out_at)}, {early} min before {_hhmm(end)}"
                f" (grace {rules.early_leave_grace_min} min)",
            )
        )
    status = {
        (False, False): "present",
        (True, False): "late",
        (False, True): "early_leave",
        (True, True): "late_and_early_leave",
    }[(is_late, is_early)]
    if status == "present":
        lead.append(Reason("present", f"{_hhmm(in_at)}–{_hhmm(out_at)}, expected {window}"))
    return DayVerdict(status, explanation=(*lead, *notes), **common)
