"""Punch corrections (补卡) over HTTP: the window, the monthly cap, duplicates, the
calendar, and who decides.

"Today" is fixed at Monday 2026-10-12 (China time). With the default rules (three a month,
seven days back) the window opens on 2026-10-05; in it, 10-05..10-07 are the National Day
holiday, 10-08 and 10-09 are workdays, Saturday 10-10 is a worked 调休 day and Sunday
10-11 is a rest day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend import clock
from backend.attendance import requests as services
from backend.attendance.request_models import PunchCorrection
from backend.attendance.rule_models import AttendanceRule
from backend.attendance.rules import DEFAULT_LEAVE_TYPES
from tests.factories import World, fresh

CORRECTIONS = "/api/v1/punch-corrections"
TODAY = date(2026, 10, 12)


@pytest.fixture
def set_today(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    def move(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    move(TODAY)
    return move


@pytest.fixture(autouse=True)
def _today(set_today: Callable[[date], None]) -> None:
    """Every test starts on TODAY."""


def correction(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "day": "2026-10-09",
        "kind": "in",
        "time": "07:55",
        "reason": "手机没电，忘记打卡",
    }
    body.update(changes)
    return body


def file(
    client: FlaskClient, world: World, persona: str = "teacher_a", **changes: Any
) -> TestResponse:
    return client.post(CORRECTIONS, json=correction(**changes), headers=world.headers[persona])


def created(response: TestResponse) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()
    assert response.status_code == 201, body
    return body


def refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()
    assert response.status_code == status, body
    assert body["status"] == status and body["code"] == code, body
    return body


def act(
    client: FlaskClient, world: World, request_id: str, verb: str, persona: str, **body: Any
) -> TestResponse:
    return client.post(
        f"{CORRECTIONS}/{request_id}/{verb}", json=body or None, headers=world.headers[persona]
    )


def test_a_missed_punch_is_asked_for_in_china_time(
    client: FlaskClient, world: World, session: Session
) -> None:
    body = created(file(client, world, id="fix-1"))
    assert body["time"] == "07:55" and body["status"] == "pending"
    assert body["host_school_id"] == str(world.member_a.id)
    [row] = fresh(session, sa.select(PunchCorrection).where(PunchCorrection.id == "fix-1"))
    # 07:55 in Beijing is 23:55 UTC the day before.
    assert row.punched_at == datetime(2026, 10, 8, 23, 55, tzinfo=UTC)
    assert (row.day, row.kind) == (date(2026, 10, 9), "in")


def test_the_day_is_a_past_workday_within_the_window(client: FlaskClient, world: World) -> None:
    created(file(client, world, day="2026-10-10"))  # Saturday, worked (调休)
    created(file(client, world, day="2026-10-12", kind="out", time="17:40"))  # today
    refused(file(client, world, day="2026-10-11"), 422, "not_a_workday")  # Sunday
    refused(file(client, world, day="2026-10-06"), 422, "not_a_workday")  # National Day
    refused(file(client, world, day="2026-10-13"), 422, "day_in_future")
    body = refused(file(client, world, day="2026-09-30"), 422, "correction_window_exceeded")
    assert "2026-10-05" in body["message"]  # counted back from the server's own date


def test_the_window_and_cap_are_the_rules_in_force(
    client: FlaskClient, world: World, session: Session
) -> None:
    session.add(
        AttendanceRule(
            region_id=world.county_a.id,
            effective_from=date(2026, 9, 1),
            workday_start=time(8, 0),
            midday=time(12, 0),
            workday_end=time(17, 30),
            late_grace_min=10,
            early_leave_grace_min=10,
            half_day_threshold_min=240,
            photo_required=False,
            corrections_per_month=1,
            correction_window_days=2,
            late_sync_days=3,
            leave_types=[t.as_dict() for t in DEFAULT_LEAVE_TYPES],
        )
    )
    session.commit()
    refused(file(client, world, day="2026-10-09"), 422, "correction_window_exceeded")
    created(file(client, world, day="2026-10-10"))
    body = refused(file(client, world, day="2026-10-12"), 422, "correction_cap_reached")
    assert "at most 1" in body["message"]


def test_three_live_corrections_a_calendar_month(
    client: FlaskClient, world: World, set_today: Callable[[date], None]
) -> None:
    set_today(date(2026, 10, 1))  # the window reaches back to 09-24
    for day in ("2026-09-24", "2026-09-28", "2026-09-29"):
        created(file(client, world, day=day))
    refused(file(client, world, day="2026-09-30"), 422, "correction_cap_reached")
    set_today(TODAY)  # October has its own three
    ids = [
        created(file(client, world, day=day, kind=kind))["id"]
        for day, kind in (("2026-10-08", "in"), ("2026-10-09", "in"), ("2026-10-09", "out"))
    ]
    body = refused(file(client, world, day="2026-10-12"), 422, "correction_cap_reached")
    assert "2026-10" in body["message"]
    # Rejected and cancelled ones give their place back.
    assert (
        act(client, world, ids[0], "reject", "host_admin_a", note="当天有课表记录").status_code
        == 200
    )
    created(file(client, world, day="2026-10-12"))
    refused(file(client, world, day="2026-10-10"), 422, "correction_cap_reached")
    assert act(client, world, ids[1], "cancel", "teacher_a").status_code == 200
    created(file(client, world, day="2026-10-10"))


def test_one_live_correction_per_day_and_kind(client: FlaskClient, world: World) -> None:
    first = created(file(client, world))
    body = refused(file(client, world, time="08:01"), 422, "duplicate_correction")
    assert "2026-10-09" in body["message"]
    created(file(client, world, kind="out", time="17:35"))
    assert act(client, world, first["id"], "cancel", "teacher_a").status_code == 200
    created(file(client, world, time="08:01"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time": "7:55"}, "time"),
        ({"time": "24:00"}, "time"),
        ({"time": "07:55\n"}, "time"),
        ({"kind": "lunch"}, "kind"),
        ({"reason": ""}, "reason"),
        ({"attachment_ids": ["ok", "no/slash"]}, "attachment_ids"),
    ],
)
def test_bad_values_are_422_naming_the_field(
    client: FlaskClient, world: World, changes: dict[str, Any], field: str
) -> None:
    body = refused(file(client, world, **changes), 422, "invalid_field")
    assert field in body["errors"]["json"]


def test_a_teacher_without_a_secondment_has_nothing_to_correct(
    client: FlaskClient, world: World
) -> None:
    refused(file(client, world, "teacher_a2"), 422, "no_active_secondment")


def test_the_host_school_decides_and_may_withdraw_an_approval(
    client: FlaskClient, world: World, session: Session
) -> None:
    request_id = created(file(client, world))["id"]
    assert act(client, world, request_id, "approve", "teacher_a").status_code == 403
    for outsider in ("school_admin_a", "school_admin_b", "bureau_b"):
        refused(act(client, world, request_id, "approve", outsider), 404, "not_found")
    approved = act(client, world, request_id, "approve", "host_admin_a")
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    refused(act(client, world, request_id, "approve", "host_admin_a"), 409, "already_decided")
    # Its day has passed, so the teacher can no longer withdraw it; the host school can.
    refused(act(client, world, request_id, "cancel", "teacher_a"), 422, "not_cancellable")
    withdrawn = act(client, world, request_id, "cancel", "host_admin_a")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "cancelled"
    [row] = fresh(session, sa.select(PunchCorrection).where(PunchCorrection.id == request_id))
    assert row.status == "cancelled" and row.decided_by_id == world.users["host_admin_a"].id


def test_a_pending_correction_is_edited_and_checked_again(
    client: FlaskClient, world: World
) -> None:
    headers = world.headers["teacher_a"]
    created(file(client, world, kind="out", time="17:40"))
    mine = created(file(client, world, id="edit-fix"))
    url = f"{CORRECTIONS}/{mine['id']}"
    etag = client.get(url, headers=headers).headers["ETag"]
    moved = client.patch(url, json={"time": "08:20"}, headers={**headers, "If-Match": etag})
    assert moved.status_code == 200 and moved.get_json()["time"] == "08:20"
    etag = moved.headers["ETag"]
    clash = client.patch(url, json={"kind": "out"}, headers={**headers, "If-Match": etag})
    refused(clash, 422, "duplicate_correction")
    etag = client.get(url, headers=headers).headers["ETag"]
    future = client.patch(url, json={"day": "2026-10-13"}, headers={**headers, "If-Match": etag})
    refused(future, 422, "day_in_future")


def test_admins_file_for_the_teachers_they_keep(client: FlaskClient, world: World) -> None:
    teacher = str(world.teacher_a.id)
    body = created(file(client, world, "host_admin_a", teacher_id=teacher))
    assert body["filed_by_id"] == str(world.users["host_admin_a"].id)
    refused(
        file(client, world, "school_admin_a", teacher_id=teacher, kind="out"),
        422,
        "validation_error",
    )


def test_lists_select_by_day(client: FlaskClient, world: World) -> None:
    ids = {
        day: created(file(client, world, day=day))["id"]
        for day in ("2026-10-08", "2026-10-09", "2026-10-10")
    }
    response = client.get(
        f"{CORRECTIONS}?from=2026-10-09&to=2026-10-09", headers=world.headers["host_admin_a"]
    )
    assert [i["id"] for i in response.get_json()["items"]] == [ids["2026-10-09"]]
    assert client.get(CORRECTIONS, headers=world.headers["teacher_b"]).get_json()["items"] == []


def test_the_live_index_catches_a_duplicate_the_check_missed(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    created(file(client, world, id="racer"))
    real = services._live_corrections

    def blind_to_duplicates(*args: Any, kind: str | None = None) -> int:
        # As a concurrent request would: the rival is not visible when checked.
        return 0 if kind is not None else real(*args)

    monkeypatch.setattr(services, "_live_corrections", blind_to_duplicates)
    refused(file(client, world, time="08:10"), 422, "duplicate_correction")
