"""Teacher days stored and recomputed whenever an input changes, with their history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.attendance.day_models import TeacherDay, TeacherDayChange
from backend.attendance.models import CheckIn, FlagReview
from backend.attendance.request_models import LeaveRequest, PunchCorrection, half_ordinal
from backend.clock import CHINA, today
from backend.db import utcnow
from backend.exchange.services import cancel_secondment
from tests import factories
from tests.factories import World
from tests.sync.phone import Phone, check_in, phone_for


def _ms(day: date, hhmm: str) -> int:
    hour, minute = map(int, hhmm.split(":"))
    return int(datetime.combine(day, time(hour, minute), CHINA).timestamp() * 1000)


def _workday_before(days: int) -> date:
    """The latest national workday at least ``days`` days ago."""
    day = today() - timedelta(days=days)
    while not chinese_calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def _push(phone: Phone, *records: dict[str, object]) -> None:
    phone.pull()
    response = phone.push_request(
        {"check_ins": {"created": list(records), "updated": [], "deleted": []}}
    )
    assert response.status_code == 200, response.json


def _day(session: Session, world: World, day: date) -> TeacherDay:
    session.expire_all()
    return session.scalars(
        sa.select(TeacherDay).where(
            TeacherDay.teacher_id == world.teacher_a.id, TeacherDay.day == day
        )
    ).one()


def _changes(session: Session, row: TeacherDay) -> list[TeacherDayChange]:
    return list(
        session.scalars(
            sa.select(TeacherDayChange)
            .where(TeacherDayChange.teacher_day_id == row.id)
            .order_by(TeacherDayChange.version)
        )
    )


def test_a_punch_synced_ten_days_late_turns_absent_into_present(
    phone: Phone, session: Session, world: World
) -> None:
    day = _workday_before(10)
    daybook.recompute(session, world.teacher_a.id, [day], "day closed")
    assert _day(session, world, day).status == "absent"

    _push(
        phone,
        check_in("late0000000000in", captured_at=_ms(day, "07:52")),
        check_in("late000000000out", kind="out", captured_at=_ms(day, "17:41")),
    )
    row = _day(session, world, day)
    assert (row.status, row.version) == ("present", 2)
    assert row.open_flags == 2  # both punches carry late_sync: reported for review
    first, second = _changes(session, row)
    assert first.before is None and first.after["status"] == "absent"
    assert second.before is not None and second.before["status"] == "absent"
    assert second.after["status"] == "present" and second.cause == "2 check-ins synced"


def test_closing_days_stores_absences_once(session: Session, world: World) -> None:
    day = _workday_before(3)
    assert daybook.stored_days(session, world.teacher_a.id, day, day) == []
    assert daybook.close_days(session, day, days_back=0) == 2  # teacher_a and teacher_b
    stored = _day(session, world, day)
    assert (stored.status, stored.version) == ("absent", 1)
    assert _changes(session, stored)[0].cause == "day closed"
    assert daybook.close_days(session, day, days_back=0) == 0
    assert daybook.recompute(session, world.teacher_a.id, [day], "again") == []


def test_holidays_and_make_up_workdays(session: Session, world: World) -> None:
    national_day, make_up_saturday = date(2026, 10, 1), date(2026, 10, 10)
    make_up_sunday, plain_sunday = date(2026, 9, 20), date(2026, 9, 27)
    days = [national_day, make_up_saturday, make_up_sunday, plain_sunday]
    daybook.recompute(session, world.teacher_a.id, days, "closed")
    holiday = _day(session, world, national_day)
    assert (holiday.status, holiday.day_kind, holiday.day_name) == (
        "non_workday",
        "holiday",
        "国庆节",
    )
    # 调休: a Sunday before and the Saturday after the holiday week are worked.
    assert _day(session, world, make_up_saturday).status == "absent"
    sunday = _day(session, world, make_up_sunday)
    assert (sunday.status, sunday.day_kind) == ("absent", "makeup_workday")
    assert _day(session, world, plain_sunday).status == "non_workday"


def test_an_unpublished_year_is_not_judged(session: Session, world: World) -> None:
    derived = daybook.derive_days(session, world.teacher_a.id, [date(2027, 1, 4)])
    verdict = derived[date(2027, 1, 4)].verdict
    assert verdict is not None and verdict.status == "calendar_unpublished"


def test_days_from_today_on_are_derived_but_not_stored(session: Session, world: World) -> None:
    assert daybook.recompute(session, world.teacher_a.id, [today()], "too early") == []


def _leave(
    world: World, ref: str, start: tuple[date, str], end: tuple[date, str], **extra: object
) -> LeaveRequest:
    return LeaveRequest(
        id=ref,
        teacher_id=world.teacher_a.id,
        secondment_id=world.secondment_a.id,
        host_school_id=world.member_a.id,
        leave_type=extra.pop("leave_type", "sick"),
        start_on=start[0],
        start_half=start[1],
        end_on=end[0],
        end_half=end[1],
        first_half=half_ordinal(*start),
        last_half=half_ordinal(*end),
        reason="flu",
        status=extra.pop("status", "approved"),
        received_at=utcnow(),
    )


def test_leave_across_a_month_boundary_by_half_days(session: Session, world: World) -> None:
    # Friday afternoon 2026-10-30 to Monday morning 2026-11-02.
    friday, saturday, monday = date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 2)
    session.add(_leave(world, "leave-month-edge", (friday, "pm"), (monday, "am")))
    session.flush()
    daybook.recompute(session, world.teacher_a.id, [friday, saturday, monday], "leave approved")
    fri = _day(session, world, friday)
    assert (fri.status, fri.leave_type, fri.leave_halves) == ("absent", "sick", 1)
    assert _day(session, world, saturday).status == "non_workday"
    mon = _day(session, world, monday)
    assert (mon.status, mon.leave_halves) == ("absent", 1)


def test_cancelling_approved_leave_is_recomputed_and_kept(session: Session, world: World) -> None:
    day = date(2026, 11, 3)
    leave = _leave(world, "leave-cancelled", (day, "am"), (day, "pm"), leave_type="training")
    session.add(leave)
    session.flush()
    daybook.recompute(session, world.teacher_a.id, [day], "leave approved")
    assert _day(session, world, day).status == "official_duty"
    leave.status = "cancelled"
    daybook.recompute(session, world.teacher_a.id, [day], "leave request leave-cancelled cancelled")
    row = _day(session, world, day)
    assert row.status == "absent" and row.version == 2
    change = _changes(session, row)[-1]
    assert change.before is not None and change.before["status"] == "official_duty"
    assert change.cause == "leave request leave-cancelled cancelled"


def test_an_approved_correction_completes_a_day(
    phone: Phone, session: Session, world: World
) -> None:
    day = _workday_before(2)
    _push(phone, check_in("corr00000000000in", captured_at=_ms(day, "07:58")))
    assert _day(session, world, day).status == "half_day"
    session.add(
        PunchCorrection(
            id="corr-out",
            teacher_id=world.teacher_a.id,
            secondment_id=world.secondment_a.id,
            host_school_id=world.member_a.id,
            day=day,
            kind="out",
            punched_at=datetime.combine(day, time(17, 35), CHINA).astimezone(UTC),
            reason="phone battery died",
            status="approved",
            received_at=utcnow(),
        )
    )
    daybook.recompute(session, world.teacher_a.id, [day], "punch correction corr-out approved")
    row = _day(session, world, day)
    assert (row.status, row.corrections_applied) == ("present", 1)


def test_an_upheld_flag_takes_the_punch_out(phone: Phone, session: Session, world: World) -> None:
    day = _workday_before(2)
    _push(
        phone,
        check_in("flagged000000in", captured_at=_ms(day, "07:58"), mock_location=True),
        check_in("flagged00000out", kind="out", captured_at=_ms(day, "17:35")),
    )
    assert _day(session, world, day).status == "present"
    session.add(
        FlagReview(
            check_in_id="flagged000000in",
            code="mock_location",
            decision="accepted",
            note="a location-faking app was installed",
            reviewed_at=utcnow(),
        )
    )
    daybook.recompute(session, world.teacher_a.id, [day], "flag reviewed")
    row = _day(session, world, day)
    assert row.status == "half_day"
    assert [e["code"] for e in row.explanation][:2] == ["missing_check_in", "punch_excluded"]


def test_a_secondment_entered_after_the_punches_judges_them_again(
    client: FlaskClient, session: Session, world: World
) -> None:
    other = phone_for(client, session, world, "teacher_a2")  # not seconded yet
    day = _workday_before(3)
    _push(other, check_in("resec00000000in", captured_at=_ms(day, "07:57")))
    assert daybook.stored_days(session, world.teacher_a2.id, day, day) == []  # no secondment
    punch = session.get(CheckIn, "resec00000000in")
    assert punch is not None and "no_active_secondment" in [f["code"] for f in punch.flags]

    secondment = factories.secondment(
        session, world.teacher_a2, world.member_a, start_on=day - timedelta(days=5)
    )
    session.expire_all()
    punch = session.get(CheckIn, "resec00000000in")
    assert punch is not None
    assert punch.secondment_id == secondment.id and punch.location == "inside"
    # Judged again: only what the secondment does not change may remain (a late sync).
    assert {f["code"] for f in punch.flags} <= {"late_sync"}
    stored = session.scalars(
        sa.select(TeacherDay).where(
            TeacherDay.teacher_id == world.teacher_a2.id, TeacherDay.day == day
        )
    ).one()
    assert stored.status == "half_day"  # in, no out

    cancel_secondment(session, secondment, "entered for the wrong teacher")
    session.expire_all()
    punch = session.get(CheckIn, "resec00000000in")
    assert punch is not None and punch.secondment_id is None
    assert "no_active_secondment" in [f["code"] for f in punch.flags]
    gone = session.get(TeacherDay, stored.id)
    assert gone is not None and gone.deleted_at is not None
