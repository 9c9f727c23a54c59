"""What inspectors found against the attendance record: each discrepancy, a clean visit,
and the cross-check run again when the attendance changes after the visit.

The visits fall on a past workday D (visited at 10:00 China time, pushed today), so that
D's attendance is stored and re-derived like any closed day's.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.request_models import half_ordinal
from backend.clock import CHINA
from backend.inspection import crosscheck as cc
from backend.inspection.models import SpotCheck, SpotCheckFinding, SpotCheckVisit
from tests.factories import World, fresh
from tests.inspection.visit_support import (
    findings,
    ms,
    phone_of,
    push,
    spot_check,
    visit,
    workday_before,
)
from tests.sync.phone import Phone, check_in

LEAVE = "/api/v1/leave-requests"

# --- the comparison, pure ---------------------------------------------------------------------

DAY = date(2026, 10, 14)


def at(hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=CHINA).astimezone(UTC)


def punch(kind: str, hhmm: str, source: str = "check_in") -> cc.Punch:
    return cc.Punch(kind, at(hhmm), f"{kind}-{hhmm}", source)


def leave(first: str, last: str) -> cc.Leave:
    return cc.Leave("L1", "sick", half_ordinal(DAY, first), half_ordinal(DAY, last))


def codes(
    finding: str,
    visit_at: str,
    *,
    punches: tuple[cc.Punch, ...] = (),
    leaves: tuple[cc.Leave, ...] = (),
) -> list[str]:
    found = cc.discrepancies(finding, at(visit_at), cc.Attendance(punches, leaves))
    assert all(d["reason"] for d in found)
    return [d["code"] for d in found]


@pytest.mark.db_independent
def test_the_five_discrepancies_and_the_clean_cases() -> None:
    arrived = (punch("in", "07:50"),)
    # Checked in and not out by the visit, but found absent.
    assert codes("absent", "10:00", punches=arrived) == ["checked_in_but_found_absent"]
    assert codes("absent_without_leave", "10:00", punches=arrived) == [
        "checked_in_but_found_absent"
    ]
    # …unless they checked out before the visit, or checked in only after it.
    assert codes("absent", "10:00", punches=(*arrived, punch("out", "09:30"))) == []
    assert codes("absent", "10:00", punches=(punch("in", "10:05"),)) == []
    # An approved correction counts as the punch it corrects.
    assert codes("absent", "10:00", punches=(punch("in", "07:55", "correction"),)) == [
        "checked_in_but_found_absent"
    ]
    # Found teaching while on approved leave (the morning's leave; the visit is in it).
    assert codes("present_teaching", "10:00", punches=arrived, leaves=(leave("am", "am"),)) == [
        "on_leave_but_found_teaching"
    ]
    assert codes("present_teaching", "15:00", punches=arrived, leaves=(leave("am", "am"),)) == []
    # Present without any check-in before the visit.
    assert codes("present_not_teaching", "10:00") == ["present_without_check_in"]
    assert codes("present_teaching", "10:00", punches=(punch("in", "10:30"),)) == [
        "present_without_check_in"
    ]
    # Said to be on approved leave, but no approved leave covers the half day.
    assert codes("on_approved_leave", "15:00", leaves=(leave("am", "am"),)) == [
        "leave_not_on_record"
    ]
    assert codes("on_approved_leave", "10:00", leaves=(leave("am", "pm"),)) == []
    # Found absent without leave, but leave was approved.
    assert codes("absent_without_leave", "10:00", leaves=(leave("am", "pm"),)) == [
        "absent_but_leave_approved"
    ]
    assert codes("absent", "10:00", leaves=(leave("am", "pm"),)) == []
    # Clean: teaching after checking in; absent with no punch.
    assert codes("present_teaching", "10:00", punches=arrived) == []
    assert codes("absent_without_leave", "10:00") == []


# --- against the stored attendance ------------------------------------------------------------


@pytest.fixture
def day() -> date:
    return workday_before(1)


@pytest.fixture
def check(session: Session, world: World, day: date) -> SpotCheck:
    return spot_check(session, world, window=(day, day))


@pytest.fixture
def inspector(client: FlaskClient, session: Session, world: World) -> Phone:
    return phone_of(client, session, world, world.users["inspector_a"])


def record(check: SpotCheck, day: date, teacher: uuid.UUID, finding: str) -> dict[str, object]:
    return visit("visit-cross-001", check, ms(day, "10:00"), findings=findings((teacher, finding)))


def the_finding(session: Session) -> SpotCheckFinding:
    [row] = fresh(
        session, sa.select(SpotCheckFinding).where(SpotCheckFinding.visit_id == "visit-cross-001")
    )
    return row


def the_visit(session: Session) -> SpotCheckVisit:
    [row] = fresh(session, sa.select(SpotCheckVisit).where(SpotCheckVisit.id == "visit-cross-001"))
    return row


def found_codes(session: Session) -> list[str]:
    return [d["code"] for d in the_finding(session).discrepancies]


def punch_in(phone: Phone, day: date, record_id: str = "cross-in-000001") -> None:
    body = push(phone, "check_ins", created=[check_in(record_id, captured_at=ms(day, "07:50"))])
    assert body["applied"] == 1


def approved_leave(client: FlaskClient, world: World, day: date) -> str:
    filed = client.post(
        LEAVE,
        json={
            "teacher_id": str(world.teacher_a.id),
            "leave_type": "sick",
            "start_on": day.isoformat(),
            "end_on": day.isoformat(),
            "reason": "发烧",
        },
        headers=world.headers["host_admin_a"],
    )
    assert filed.status_code == 201, filed.get_json()
    leave_id: str = filed.get_json()["id"]
    approved = client.post(f"{LEAVE}/{leave_id}/approve", headers=world.headers["host_admin_a"])
    assert approved.status_code == 200, approved.get_json()
    return leave_id


def test_a_clean_visit_is_accepted(
    session: Session, world: World, check: SpotCheck, inspector: Phone, phone: Phone, day: date
) -> None:
    punch_in(phone, day)
    push(inspector, created=[record(check, day, world.teacher_a.id, "present_teaching")])
    finding = the_finding(session)
    assert (finding.day, finding.host_school_id, finding.discrepancies) == (
        day,
        world.member_a.id,
        [],
    )
    visit_row = the_visit(session)
    assert (visit_row.status, visit_row.flags) == ("accepted", [])
    assert visit_row.estimated_at is not None
    assert visit_row.estimated_at.astimezone(CHINA).strftime("%Y-%m-%d %H") == f"{day} 10"


def test_checked_in_but_found_absent(
    session: Session, world: World, check: SpotCheck, inspector: Phone, phone: Phone, day: date
) -> None:
    punch_in(phone, day)
    push(inspector, created=[record(check, day, world.teacher_a.id, "absent")])
    assert found_codes(session) == ["checked_in_but_found_absent"]
    visit_row = the_visit(session)
    assert visit_row.status == "flagged"
    [flag] = visit_row.flags
    assert flag["code"] == "checked_in_but_found_absent"
    assert world.teacher_a.staff_no in flag["reason"] and "cross-in-000001" in flag["reason"]
    # The inspector's phone gets the verdict back.
    [wire] = inspector.pull()["changes"]["spot_check_visits"]["updated"]
    assert [d["code"] for d in json.loads(wire["discrepancies"])] == ["checked_in_but_found_absent"]
    assert wire["status"] == "flagged"


def test_present_without_check_in(
    session: Session, world: World, check: SpotCheck, inspector: Phone, day: date
) -> None:
    push(inspector, created=[record(check, day, world.teacher_a.id, "present_not_teaching")])
    assert found_codes(session) == ["present_without_check_in"]


def test_leave_not_on_record(
    session: Session, world: World, check: SpotCheck, inspector: Phone, day: date
) -> None:
    push(inspector, created=[record(check, day, world.teacher_a.id, "on_approved_leave")])
    assert found_codes(session) == ["leave_not_on_record"]


def test_on_leave_but_found_teaching(
    client: FlaskClient,
    session: Session,
    world: World,
    check: SpotCheck,
    inspector: Phone,
    phone: Phone,
    day: date,
) -> None:
    punch_in(phone, day)
    approved_leave(client, world, day)
    push(inspector, created=[record(check, day, world.teacher_a.id, "present_teaching")])
    assert found_codes(session) == ["on_leave_but_found_teaching"]


def test_a_leave_approved_after_the_visit_reruns_the_cross_check(
    client: FlaskClient,
    session: Session,
    world: World,
    check: SpotCheck,
    inspector: Phone,
    day: date,
) -> None:
    push(inspector, created=[record(check, day, world.teacher_a.id, "absent_without_leave")])
    assert found_codes(session) == [] and the_visit(session).status == "accepted"
    inspector.pull()

    leave_id = approved_leave(client, world, day)
    assert found_codes(session) == ["absent_but_leave_approved"]
    assert leave_id in the_finding(session).discrepancies[0]["reason"]
    assert the_visit(session).status == "flagged"
    [wire] = inspector.pull()["changes"]["spot_check_visits"]["updated"]
    assert [f["code"] for f in json.loads(wire["flags"])] == ["absent_but_leave_approved"]

    # Withdrawn again by the host school: the discrepancy goes with it.
    cancelled = client.post(f"{LEAVE}/{leave_id}/cancel", headers=world.headers["host_admin_a"])
    assert cancelled.status_code == 200, cancelled.get_json()
    assert found_codes(session) == [] and the_visit(session).status == "accepted"


def test_a_check_in_withdrawn_after_the_visit_reruns_the_cross_check(
    session: Session, world: World, check: SpotCheck, inspector: Phone, phone: Phone, day: date
) -> None:
    punch_in(phone, day)
    push(inspector, created=[record(check, day, world.teacher_a.id, "present_teaching")])
    assert found_codes(session) == []
    push(phone, "check_ins", deleted=["cross-in-000001"])
    assert found_codes(session) == ["present_without_check_in"]
    assert the_visit(session).status == "flagged"


def test_a_discrepancy_shows_on_the_teacher_day_for_the_teacher_and_both_schools(
    client: FlaskClient,
    session: Session,
    world: World,
    check: SpotCheck,
    inspector: Phone,
    phone: Phone,
    day: date,
) -> None:
    punch_in(phone, day)
    push(inspector, created=[record(check, day, world.teacher_a.id, "absent")])
    month = f"/api/v1/attendance/teachers/{world.teacher_a.id}/months/{day:%Y-%m}"
    for persona in ("teacher_a", "host_admin_a", "school_admin_a"):
        response = client.get(month, headers=world.headers[persona])
        assert response.status_code == 200, response.get_json()
        [entry] = [d for d in response.get_json()["days"] if d["date"] == day.isoformat()]
        [found] = entry["spot_checks"]
        assert (found["finding"], found["visit_id"]) == ("absent", "visit-cross-001")
        assert [d["code"] for d in found["discrepancies"]] == ["checked_in_but_found_absent"]
        others = [d for d in response.get_json()["days"] if d["date"] != day.isoformat()]
        assert all(d["spot_checks"] == [] for d in others)
