"""The attendance views: a teacher's month, the host school's daily board, day history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.clock import today
from tests.attendance.test_daybook import _ms, _push, _workday_before
from tests.factories import World
from tests.sync.phone import Phone, check_in


def _month(client: FlaskClient, world: World, persona: str, month: str) -> tuple[int, Any]:
    response = client.get(
        f"/api/v1/attendance/teachers/{world.teacher_a.id}/months/{month}",
        headers=world.headers[persona],
    )
    return response.status_code, response.json


def test_the_national_day_month_day_by_day(client: FlaskClient, world: World) -> None:
    status, body = _month(client, world, "teacher_a", "2026-10")
    assert status == 200, body
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 31
    assert days["2026-10-01"]["status"] == "non_workday"
    assert days["2026-10-01"]["day_name"] == "国庆节"
    # 调休: Saturday 10 October is worked; nobody closed the day yet, so it is derived live.
    saturday = days["2026-10-10"]
    assert (saturday["status"], saturday["stored"], saturday["final"]) == ("absent", False, True)
    assert saturday["explanation"][0]["code"] == "no_punches"
    summary = body["summary"]
    # October 2026: 23 weekdays − 6 holiday weekdays (1–2, 5–8) + 1 make-up Saturday = 18.
    assert summary["workdays"] == 18 and summary["absent"] == 18


def test_a_day_shows_its_flags_explained(
    client: FlaskClient, session: Session, world: World, phone: Phone
) -> None:
    day = _workday_before(2)
    _push(
        phone,
        check_in("view00000000000in", captured_at=_ms(day, "07:59"), latitude=35.99),
        check_in("view0000000000out", kind="out", captured_at=_ms(day, "17:31")),
    )
    status, body = _month(client, world, "teacher_a", day.strftime("%Y-%m"))
    assert status == 200
    entry = next(d for d in body["days"] if d["date"] == day.isoformat())
    assert entry["status"] == "present" and entry["stored"] is True
    assert entry["open_flags"] == 1
    (flag,) = entry["flags"]
    assert flag["check_in_id"] == "view00000000000in" and flag["code"] == "outside_fence"
    assert "m" in flag["reason"] and flag["review"] is None


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("teacher_a", 200),
        ("host_admin_a", 200),  # keeps the attendance
        ("school_admin_a", 200),  # the home school, which pays
        ("bureau_a", 200),
        ("teacher_b", 404),
        ("school_admin_b", 404),
        ("bureau_b", 404),
    ],
)
def test_who_sees_a_teachers_month(
    client: FlaskClient, world: World, persona: str, expected: int
) -> None:
    status, _ = _month(client, world, persona, "2026-11")
    assert status == expected


def test_a_bad_month_is_a_clear_error(client: FlaskClient, world: World) -> None:
    status, body = _month(client, world, "teacher_a", "2026-13")
    assert status == 422 and "YYYY-MM" in body["message"]


def _board(client: FlaskClient, world: World, persona: str, on: str = "") -> tuple[int, Any]:
    query = f"?date={on}" if on else ""
    response = client.get(
        f"/api/v1/attendance/schools/{world.member_a.id}/board{query}",
        headers=world.headers[persona],
    )
    return response.status_code, response.json


def test_the_board_of_a_past_day(
    client: FlaskClient, session: Session, world: World, phone: Phone
) -> None:
    day = _workday_before(2)
    _push(
        phone,
        check_in("board0000000000in", captured_at=_ms(day, "08:25")),
        check_in("board000000000out", kind="out", captured_at=_ms(day, "17:40")),
    )
    status, body = _board(client, world, "host_admin_a", day.isoformat())
    assert status == 200, body
    (entry,) = body["teachers"]
    assert entry["teacher_id"] == str(world.teacher_a.id) and entry["state"] == "late"
    assert entry["day"]["late_minutes"] == 25 and body["counts"] == {"late": 1}
    assert body["day_over"] is True


def test_the_board_today_waits_for_the_day_to_end(
    client: FlaskClient, world: World, phone: Phone
) -> None:
    status, body = _board(client, world, "host_admin_a")
    assert status == 200
    (entry,) = body["teachers"]
    assert entry["state"] in ("not_checked_in", "non_workday")
    if entry["state"] == "non_workday":
        return  # a weekend or holiday today: nothing more to see
    _push(phone, check_in("boardtoday0000in"))  # a minute ago, at the school
    (entry,) = _board(client, world, "host_admin_a")[1]["teachers"]
    assert entry["state"] in ("checked_in", "late") and entry["day"]["final"] is False


def test_the_board_is_the_schools_own(client: FlaskClient, world: World) -> None:
    assert _board(client, world, "school_admin_b")[0] == 404
    # The home school (same community) sees its own teacher there; nobody else's.
    status, body = _board(client, world, "school_admin_a")
    assert status == 200 and [t["teacher_id"] for t in body["teachers"]] == [
        str(world.teacher_a.id)
    ]


def test_a_days_history_says_what_changed_and_why(
    client: FlaskClient, session: Session, world: World, phone: Phone
) -> None:
    day = _workday_before(10)
    daybook.close_days(session, day, days_back=0)
    _push(
        phone,
        check_in("hist00000000000in", captured_at=_ms(day, "07:50")),
        check_in("hist0000000000out", kind="out", captured_at=_ms(day, "17:45")),
    )
    url = f"/api/v1/attendance/teachers/{world.teacher_a.id}/days/{day.isoformat()}/changes"
    response = client.get(url, headers=world.headers["host_admin_a"])
    assert response.status_code == 200, response.json
    first, second = response.get_json()
    assert (first["version"], first["before"], first["after"]["status"]) == (1, None, "absent")
    assert second["before"]["status"] == "absent" and second["after"]["status"] == "present"
    assert second["cause"] == "2 check-ins synced"
    assert client.get(url, headers=world.headers["school_admin_b"]).status_code == 404
    tomorrow = (today() + timedelta(days=1)).isoformat()
    missing = f"/api/v1/attendance/teachers/{world.teacher_a.id}/days/{tomorrow}/changes"
    assert client.get(missing, headers=world.headers["teacher_a"]).status_code == 404
