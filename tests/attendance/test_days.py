"""The teacher-day rules (``backend.attendance.days``), one by one, on real dates."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from backend.attendance.days import DayInputs, DayLeave, DayPunch, DayVerdict, derive
from backend.attendance.rules import DEFAULT_RULES, Rules
from backend.clock import CHINA

pytestmark = pytest.mark.db_independent  # runs once in CI, not per database

MONDAY = date(2026, 11, 16)  # an ordinary workday


def _at(hhmm: str, day: date = MONDAY) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), CHINA)


def _day(
    *punches: tuple[str, str],
    day: date = MONDAY,
    rules: Rules = DEFAULT_RULES,
    leaves: tuple[DayLeave, ...] = (),
    workday: bool = True,
    published: bool = True,
    corrections: tuple[tuple[str, str], ...] = (),
    **extra: object,
) -> DayVerdict:
    counted = tuple(
        DayPunch(kind, _at(hhmm, day), "check_in", f"c{i}")
        for i, (kind, hhmm) in enumerate(punches)
    )
    counted += tuple(
        DayPunch(kind, _at(hhmm, day), "correction", f"k{i}")
        for i, (kind, hhmm) in enumerate(corrections)
    )
    inputs = DayInputs(
        day=day,
        published=published,
        workday=workday,
        day_kind="workday" if workday else "holiday",
        day_name="" if workday else "国庆节",
        rules=rules,
        punches=counted,
        leaves=leaves,
        **extra,  # type: ignore[arg-type]
    )
    return derive(inputs)


def _codes(verdict: DayVerdict) -> list[str]:
    return [r.code for r in verdict.explanation]


@pytest.mark.parametrize(
    ("arrive", "leave", "status", "late", "early"),
    [
        ("07:55", "17:35", "present", 0, 0),
        ("08:10", "17:30", "present", 10, 0),  # exactly the grace: still on time
        ("08:11", "17:30", "late", 11, 0),
        ("08:00", "17:19", "early_leave", 0, 11),
        ("08:20", "17:00", "late_and_early_leave", 20, 30),
    ],
)
def test_graces_decide_late_and_early(
    arrive: str, leave: str, status: str, late: int, early: int
) -> None:
    verdict = _day(("in", arrive), ("out", leave))
    assert (verdict.status, verdict.late_minutes, verdict.early_minutes) == (status, late, early)


def test_the_explanation_gives_the_numbers() -> None:
    verdict = _day(("in", "08:25"), ("out", "17:30"))
    assert verdict.explanation[0].code == "late"
    assert verdict.explanation[0].reason == "checked in at 08:25, 25 min after 08:00 (grace 10 min)"


def test_first_in_and_last_out_make_the_span() -> None:
    verdict = _day(("in", "09:00"), ("in", "07:58"), ("out", "12:00"), ("out", "17:45"))
    assert verdict.status == "present"
    assert verdict.in_at == _at("07:58") and verdict.out_at == _at("17:45")
    assert verdict.attended_minutes == 570  # 08:00–17:30: only the expected hours count


def test_under_the_half_day_threshold_is_a_half_day() -> None:
    verdict = _day(("in", "08:00"), ("out", "11:59"))  # 239 min < 240
    assert verdict.status == "half_day" and _codes(verdict)[0] == "short_day"
    assert _day(("in", "08:00"), ("out", "12:00")).status == "early_leave"  # 240: not short


def test_no_punch_is_absent_and_a_missing_punch_is_a_half_day() -> None:
    assert _day().status == "absent"
    only_in = _day(("in", "07:50"))
    assert only_in.status == "half_day" and _codes(only_in) == ["missing_check_out"]
    only_out = _day(("out", "17:40"))
    assert only_out.status == "half_day" and _codes(only_out) == ["missing_check_in"]


def test_an_out_before_the_in_does_not_count() -> None:
    assert _codes(_day(("out", "07:00"), ("in", "07:55"))) == ["missing_check_out"]


def test_punches_outside_the_workday_are_absent() -> None:
    verdict = _day(("in", "18:00"), ("out", "19:00"))
    assert verdict.status == "absent" and _codes(verdict)[0] == "outside_workday"


def test_a_correction_completes_the_day_and_says_so() -> None:
    verdict = _day(("in", "07:55"), corrections=(("out", "17:35"),))
    assert verdict.status == "present" and verdict.corrections_applied == 1
    assert "correction_applied" in _codes(verdict)


def test_non_workdays_and_unpublished_years_are_not_judged() -> None:
    holiday = _day(("in", "08:00"), ("out", "17:30"), day=date(2026, 10, 1), workday=False)
    assert (
        holiday.status == "non_workday"
        and holiday.explanation[0].reason == "not a workday (国庆节)"
    )
    unpublished = _day(("in", "08:00"), day=date(2027, 1, 4), published=False)
    assert unpublished.status == "calendar_unpublished"
    assert "2027" in unpublished.explanation[0].reason


SICK = DayLeave("L1", "sick", "病假", "leave", morning=True, afternoon=True)
TRAINING = DayLeave("L2", "training", "培训", "official_duty", morning=True, afternoon=True)


def test_whole_day_leave_and_official_duty() -> None:
    sick = _day(leaves=(SICK,))
    assert (sick.status, sick.leave_type, sick.leave_halves) == ("on_leave", "sick", 2)
    duty = _day(leaves=(TRAINING,))
    assert (duty.status, duty.leave_type, duty.duty_halves, duty.leave_halves) == (
        "official_duty",
        "training",
        2,
        0,
    )


def test_a_morning_off_moves_the_expected_start_to_midday() -> None:
    morning = DayLeave("L3", "personal", "事假", "leave", morning=True, afternoon=False)
    verdict = _day(("in", "11:55"), ("out", "17:31"), leaves=(morning,))
    assert (verdict.status, verdict.leave_type, verdict.leave_halves) == ("present", "personal", 1)
    late = _day(("in", "12:30"), ("out", "17:31"), leaves=(morning,))
    assert late.status == "late" and late.late_minutes == 30
    # The half-day threshold shrinks with the expected hours (330 of 570 min → 138 min).
    short = _day(("in", "12:00"), ("out", "14:00"), leaves=(morning,))
    assert short.status == "half_day"


def test_an_afternoon_off_moves_the_expected_end_to_midday() -> None:
    afternoon = DayLeave("L4", "sick", "病假", "leave", morning=False, afternoon=True)
    assert _day(("in", "08:00"), ("out", "12:00"), leaves=(afternoon,)).status == "present"
    assert _day(leaves=(afternoon,)).status == "absent"  # and the morning was not attended


def test_region_rules_change_the_verdict() -> None:
    strict = Rules(late_grace_min=0, workday_start=time(7, 30))
    assert _day(("in", "07:31"), ("out", "17:30"), rules=strict).status == "late"


def test_review_state_is_reported() -> None:
    verdict = _day(("in", "08:00"), ("out", "17:30"), excluded=("c9",), open_flags=2)
    assert verdict.open_flags == 2
    assert {"punch_excluded", "open_flags"} <= set(_codes(verdict))


def test_the_same_inputs_give_the_same_verdict() -> None:
    punches = (("in", "08:12"), ("out", "17:00"))
    assert _day(*punches) == _day(*reversed(punches))
