"""Attendance rule versions over HTTP: resolution across region levels and dates, fields
copied from the version in force, validation, scope, withdrawal, and the re-derivation of
the days a version governs once it is in force."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance import daybook
from backend.attendance.day_models import TeacherDay, TeacherDayChange
from backend.attendance.jobs import RULES_CHANGED, recompute_region_days
from backend.attendance.models import CheckIn
from backend.attendance.rule_models import AttendanceRule
from backend.attendance.rules import DEFAULT_LEAVE_TYPES
from backend.clock import CHINA
from backend.jobs import OutboxJob
from tests.factories import World, fresh
from tests.org.support import API, expect_error, ok

RULES = f"{API}/attendance/rules"
TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> date:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    return TODAY


def _post(
    client: FlaskClient, world: World, who: str, region: Any, effective_from: date, **fields: Any
) -> Any:
    body = {"region_id": str(region.id), "effective_from": effective_from.isoformat(), **fields}
    return client.post(RULES, json=body, headers=world.headers[who])


def _effective(
    client: FlaskClient, world: World, school: Any, on: date, who: str = "bureau_city"
) -> dict[str, Any]:
    url = f"{RULES}/effective?school_id={school.id}&on={on.isoformat()}"
    return ok(client.get(url, headers=world.headers[who]))


def _jobs(session: Session, name: str) -> list[OutboxJob]:
    return fresh(session, sa.select(OutboxJob).where(OutboxJob.name.endswith(name)))


# --- resolution -----------------------------------------------------------------------------


def test_without_any_version_the_defaults_apply(client: FlaskClient, world: World) -> None:
    rules = _effective(client, world, world.member_a, date(2026, 10, 12), who="teacher_a")
    assert rules["source"] == "defaults" and rules["rule_id"] is None
    assert rules["region_id"] is None and rules["effective_from"] is None
    assert (rules["workday_start"], rules["midday"], rules["workday_end"]) == (
        "08:00",
        "12:00",
        "17:30",
    )
    assert rules["late_grace_min"] == 10 and rules["corrections_per_month"] == 3
    assert [t["code"] for t in rules["leave_types"]] == [t.code for t in DEFAULT_LEAVE_TYPES]
    assert rules["on"] == "2026-10-12" and rules["school_id"] == str(world.member_a.id)


def test_the_nearest_region_with_a_version_in_force_decides(
    client: FlaskClient, world: World
) -> None:
    city = ok(
        _post(client, world, "bureau_city", world.city, date(2026, 9, 1), workday_start="08:30"),
        201,
    )
    # County A's version copies what it leaves out from the city's version in force.
    county = ok(
        _post(client, world, "bureau_a", world.county_a, date(2026, 10, 1), late_grace_min=5),
        201,
    )
    assert county["workday_start"] == "08:30" and county["late_grace_min"] == 5
    assert city["late_grace_min"] == 10 and city["workday_end"] == "17:30"

    before = _effective(client, world, world.member_a, date(2026, 8, 31))
    assert before["source"] == "defaults" and before["workday_start"] == "08:00"
    september = _effective(client, world, world.member_a, date(2026, 9, 15))
    assert september["source"] == "region" and september["rule_id"] == city["id"]
    assert september["region_name"] == world.city.name and september["late_grace_min"] == 10
    assert september["effective_from"] == "2026-09-01"
    october = _effective(client, world, world.member_a, date(2026, 10, 1))
    assert october["rule_id"] == county["id"] and october["region_id"] == str(world.county_a.id)
    assert (october["workday_start"], october["late_grace_min"]) == ("08:30", 5)
    # County B has no version of its own: the city's.
    assert _effective(client, world, world.core_b, date(2026, 10, 15))["rule_id"] == city["id"]

    # A later city version does not override county A's own version in force.
    later = ok(
        _post(client, world, "bureau_city", world.city, date(2026, 11, 2), workday_start="07:50"),
        201,
    )
    assert _effective(client, world, world.member_a, date(2026, 11, 5))["rule_id"] == county["id"]
    core_b = _effective(client, world, world.core_b, date(2026, 11, 5))
    assert core_b["rule_id"] == later["id"] and core_b["workday_start"] == "07:50"
    assert _effective(client, world, world.core_b, date(2026, 11, 1))["rule_id"] == city["id"]


def test_effective_defaults_to_today_and_is_scoped(client: FlaskClient, world: World) -> None:
    url = f"{RULES}/effective?school_id={world.member_a.id}"
    assert ok(client.get(url, headers=world.headers["host_admin_a"]))["on"] == TODAY.isoformat()
    expect_error(client.get(url, headers=world.headers["school_admin_b"]), 404, "not_found")
    expect_error(client.get(url, headers=world.headers["teacher_b"]), 404, "not_found")
    expect_error(
        client.get(f"{RULES}/effective?on=2026-10-01", headers=world.headers["bureau_a"]),
        422,
        "validation_error",
        field="school_id",
        location="query",
    )


# --- creating ---------------------------------------------------------------------------------


def test_a_full_version_is_stored_as_given(
    client: FlaskClient, session: Session, world: World
) -> None:
    body = ok(
        _post(
            client,
            world,
            "bureau_a",
            world.county_a,
            date(2027, 2, 1),
            workday_start="07:40",
            midday="11:50",
            workday_end="17:00",
            late_grace_min=0,
            early_leave_grace_min=15,
            half_day_threshold_min=200,
            photo_required=True,
            corrections_per_month=2,
            correction_window_days=0,
            late_sync_days=5,
            leave_types=[
                {"code": "sick", "name": "病假"},
                {"code": "teaching_research", "name": "外出教研", "counts_as": "official_duty"},
            ],
            note="县教育局2027年考勤规定",
        ),
        201,
    )
    assert body["leave_types"][0] == {"code": "sick", "name": "病假", "counts_as": "leave"}
    assert body["created_by_id"] == str(world.users["bureau_a"].id)
    row = fresh(
        session, sa.select(AttendanceRule).where(AttendanceRule.id == uuid.UUID(body["id"]))
    )[0]
    assert row.photo_required and row.correction_window_days == 0 and row.note.startswith("县")
    assert ok(client.get(f"{RULES}/{body['id']}", headers=world.headers["teacher_a"])) == body


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"workday_start": "8:30"}, "workday_start"),
        ({"workday_start": "08:30:00"}, "workday_start"),
        ({"workday_end": "24:00"}, "workday_end"),
        ({"midday": "18:00"}, "midday"),  # after the end in force (17:30)
        ({"workday_start": "12:30"}, "workday_start"),  # after midday in force
        ({"workday_start": "13:00", "midday": "12:00"}, "midday"),
        ({"half_day_threshold_min": 571}, "half_day_threshold_min"),  # workday is 570 min
        ({"workday_end": "12:30", "half_day_threshold_min": 300}, "half_day_threshold_min"),
        ({"late_grace_min": -1}, "late_grace_min"),
        ({"early_leave_grace_min": 121}, "early_leave_grace_min"),
        ({"late_grace_min": "10"}, "late_grace_min"),
        ({"corrections_per_month": 32}, "corrections_per_month"),
        ({"correction_window_days": -1}, "correction_window_days"),
        ({"late_sync_days": 400}, "late_sync_days"),
        ({"leave_types": []}, "leave_types"),
        ({"leave_types": [{"code": "sick", "name": "病假"}] * 2}, "leave_types"),
        ({"leave_types": [{"code": "Sick", "name": "病假"}]}, "leave_types"),
        ({"leave_types": [{"code": "sick", "name": "病" * 21}]}, "leave_types"),
        ({"leave_types": [{"code": "sick", "name": ""}]}, "leave_types"),
        ({"leave_types": [{"code": "x", "name": "y", "counts_as": "holiday"}]}, "leave_types"),
        ({"note": "x" * 1001}, "note"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_versions_are_refused(
    client: FlaskClient, session: Session, world: World, fields: dict[str, Any], field: str
) -> None:
    response = _post(client, world, "bureau_a", world.county_a, date(2027, 1, 1), **fields)
    expect_error(response, 422, "validation_error", field=field, location="json")
    assert fresh(session, sa.select(AttendanceRule)) == []


def test_effective_from_is_required_and_sane(client: FlaskClient, world: World) -> None:
    headers = world.headers["bureau_a"]
    response = client.post(RULES, json={"region_id": str(world.county_a.id)}, headers=headers)
    expect_error(response, 422, "validation_error", field="effective_from", location="json")
    response = _post(client, world, "bureau_a", world.county_a, date(1999, 12, 31))
    expect_error(response, 422, "validation_error", field="effective_from", location="json")


def test_one_version_per_region_and_day(client: FlaskClient, world: World) -> None:
    ok(_post(client, world, "bureau_a", world.county_a, date(2027, 3, 1)), 201)
    again = _post(client, world, "bureau_a", world.county_a, date(2027, 3, 1), late_grace_min=0)
    expect_error(again, 409, "rule_version_exists")
    # Another region may start on the same day.
    ok(_post(client, world, "bureau_city", world.city, date(2027, 3, 1)), 201)


def test_writing_needs_a_bureau_admin_of_the_region(client: FlaskClient, world: World) -> None:
    for who in ("teacher_a", "host_admin_a", "school_admin_a", "inspector_a"):
        response = _post(client, world, who, world.county_a, date(2027, 1, 1))
        expect_error(response, 403, "forbidden")
    # A region named in the body outside the caller's subtree is a bad reference.
    for who, region in (("bureau_b", world.county_a), ("bureau_a", world.city)):
        response = _post(client, world, who, region, date(2027, 1, 1))
        expect_error(response, 422, "validation_error", field="region_id")


def test_reading_is_scoped(client: FlaskClient, world: World) -> None:
    county_a = ok(_post(client, world, "bureau_a", world.county_a, date(2027, 1, 1)), 201)
    county_b = ok(_post(client, world, "bureau_b", world.county_b, date(2027, 1, 1)), 201)
    city = ok(_post(client, world, "bureau_city", world.city, date(2027, 1, 1)), 201)

    def listed(who: str, query: str = "") -> set[str]:
        page = ok(client.get(f"{RULES}{query}", headers=world.headers[who]))
        return {item["id"] for item in page["items"]}

    assert listed("bureau_city") == {county_a["id"], county_b["id"], city["id"]}
    assert listed("bureau_a") == {county_a["id"], city["id"]}  # its own and those above
    assert listed("teacher_a") == {county_a["id"], city["id"]}
    assert listed("host_admin_a") == {county_a["id"], city["id"]}
    assert listed("teacher_b") == {county_b["id"], city["id"]}
    assert listed("bureau_city", f"?region_id={world.county_b.id}") == {county_b["id"]}
    expect_error(
        client.get(f"{RULES}/{county_b['id']}", headers=world.headers["bureau_a"]), 404, "not_found"
    )
    response = client.get(f"{RULES}/{county_b['id']}", headers=world.headers["bureau_b"])
    assert response.status_code == 200 and response.headers["ETag"]


# --- withdrawing --------------------------------------------------------------------------------


def test_a_version_not_yet_in_force_can_be_withdrawn(
    client: FlaskClient, session: Session, world: World
) -> None:
    future = ok(_post(client, world, "bureau_a", world.county_a, date(2026, 11, 21)), 201)
    url = f"{RULES}/{future['id']}"
    expect_error(client.delete(url, headers=world.headers["bureau_b"]), 404, "not_found")
    expect_error(client.delete(url, headers=world.headers["host_admin_a"]), 403, "forbidden")
    assert client.delete(url, headers=world.headers["bureau_a"]).status_code == 204
    expect_error(client.get(url, headers=world.headers["bureau_a"]), 404, "not_found")
    assert fresh(session, sa.select(AttendanceRule)) == []


@pytest.mark.parametrize("effective_from", [TODAY, date(2026, 9, 1)])
def test_a_version_in_force_is_history(
    client: FlaskClient, session: Session, world: World, effective_from: date
) -> None:
    version = ok(_post(client, world, "bureau_city", world.city, effective_from), 201)
    response = client.delete(f"{RULES}/{version['id']}", headers=world.headers["bureau_city"])
    expect_error(response, 409, "rule_in_use")
    assert len(fresh(session, sa.select(AttendanceRule))) == 1


# --- re-deriving the days a version governs -----------------------------------------------------


def test_only_a_version_in_force_queues_the_rederivation(
    client: FlaskClient, session: Session, world: World
) -> None:
    ok(_post(client, world, "bureau_a", world.county_a, date(2026, 11, 21)), 201)
    assert _jobs(session, "recompute_region_days") == []
    ok(_post(client, world, "bureau_a", world.county_a, date(2026, 10, 1)), 201)
    ok(_post(client, world, "bureau_a", world.county_a, date(2026, 9, 1)), 201)
    jobs = sorted(_jobs(session, "recompute_region_days"), key=lambda j: j.args["start"])
    assert [j.args for j in jobs] == [
        # Up to the day before the region's next version…
        {"region_id": str(world.county_a.id), "start": "2026-09-01", "end": "2026-09-30"},
        # …and no later than today.
        {"region_id": str(world.county_a.id), "start": "2026-10-01", "end": TODAY.isoformat()},
    ]
    assert all(j.relayed_at is not None for j in jobs)  # ran in-process after commit


def _punch(session: Session, world: World, record_id: str, kind: str, at: datetime) -> None:
    session.add(
        CheckIn(
            id=record_id,
            teacher_id=world.teacher_a.id,
            kind=kind,
            captured_at=int(at.timestamp() * 1000),
            latitude=35.96,
            longitude=105.73,
            received_at=at,
            secondment_id=world.secondment_a.id,
            host_school_id=world.member_a.id,
            location="inside",
            distance_m=-250.0,
            estimated_at=at,
            estimate_method="skew_only",
            status="accepted",
            flags=[],
            client_digest="0" * 64,
        )
    )


def _day(session: Session, world: World, day: date) -> TeacherDay:
    (row,) = fresh(
        session,
        sa.select(TeacherDay).where(
            TeacherDay.teacher_id == world.teacher_a.id, TeacherDay.day == day
        ),
    )
    return row


def test_a_version_in_force_rederives_the_stored_days_of_its_region(
    client: FlaskClient, session: Session, world: World
) -> None:
    day = date(2026, 10, 20)  # a Tuesday
    _punch(session, world, "rules-in-1", "in", datetime(2026, 10, 20, 8, 15, tzinfo=CHINA))
    _punch(session, world, "rules-out-1", "out", datetime(2026, 10, 20, 17, 40, tzinfo=CHINA))
    daybook.recompute(session, world.teacher_a.id, [day], "test setup")
    session.commit()
    assert _day(session, world, day).status == "late"  # 15 minutes late under the defaults

    # County B's rules do not govern a member_a day: nothing changes.
    ok(_post(client, world, "bureau_b", world.county_b, day, workday_start="08:30"), 201)
    assert _day(session, world, day).status == "late"

    ok(_post(client, world, "bureau_city", world.city, day, workday_start="08:30"), 201)
    row = _day(session, world, day)
    assert row.status == "present"
    changes = fresh(
        session,
        sa.select(TeacherDayChange)
        .where(TeacherDayChange.teacher_day_id == row.id)
        .order_by(TeacherDayChange.version),
    )
    assert [c.cause for c in changes][-2:] == ["test setup", RULES_CHANGED]
    assert changes[-1].before is not None and changes[-1].before["status"] == "late"


def test_the_job_is_idempotent(client: FlaskClient, session: Session, world: World) -> None:
    day = date(2026, 10, 21)
    _punch(session, world, "rules-in-2", "in", datetime(2026, 10, 21, 8, 0, tzinfo=CHINA))
    daybook.recompute(session, world.teacher_a.id, [day], "test setup")
    session.commit()
    ok(_post(client, world, "bureau_a", world.county_a, day, workday_start="07:30"), 201)
    before = _day(session, world, day)
    with client.application.app_context():
        recompute_region_days(
            region_id=str(world.county_a.id), start=day.isoformat(), end=day.isoformat()
        )
    after = _day(session, world, day)
    assert (after.version, after.status) == (before.version, before.status)
