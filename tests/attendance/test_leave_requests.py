"""Leave requests (请假) over HTTP, with real dates of the 2026 calendar.

The package's 2026 notice: National Day and Mid-Autumn make one week, 10-01 to 10-07 off
(10-08 is a working Thursday); Sunday 2026-09-20 and Saturday 2026-10-10 are worked
instead (调休). 2026-09-25 to 09-27 is the Mid-Autumn break. 2027 is not in
chinesecalendar 1.11, and no bureau published it here.

"Today" is fixed at Tuesday 2026-09-15 (China time) unless a test moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import chinese_calendar
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend import clock
from backend.attendance import calendar
from backend.attendance import requests as services
from backend.attendance.request_models import LeaveRequest
from tests.factories import World, fresh

LEAVE = "/api/v1/leave-requests"
TODAY = date(2026, 9, 15)
RULE = "003 §四(三)4"


@pytest.fixture
def set_today(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    def move(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    move(TODAY)
    return move


@pytest.fixture(autouse=True)
def _today(set_today: Callable[[date], None]) -> None:
    """Every test starts on TODAY."""


def leave(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "leave_type": "personal",
        "start_on": "2026-09-28",
        "end_on": "2026-10-10",
        "reason": "回老家照顾老人",
    }
    body.update(changes)
    return body


def file(
    client: FlaskClient, world: World, persona: str = "teacher_a", **changes: Any
) -> TestResponse:
    return client.post(LEAVE, json=leave(**changes), headers=world.headers[persona])


def created(response: TestResponse) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()
    assert response.status_code == 201, body
    return body


def refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()
    assert response.status_code == status, body
    assert body["status"] == status and body["code"] == code, body
    assert body["message"], body
    return body


def act(
    client: FlaskClient, world: World, request_id: str, verb: str, persona: str, **body: Any
) -> TestResponse:
    return client.post(
        f"{LEAVE}/{request_id}/{verb}", json=body or None, headers=world.headers[persona]
    )


# --- filing ---------------------------------------------------------------------------------


def test_the_calendar_assumptions_hold() -> None:
    assert not chinese_calendar.is_workday(date(2026, 10, 7))
    assert chinese_calendar.is_workday(date(2026, 10, 8))
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert chinese_calendar.is_workday(date(2026, 9, 20))  # Sunday, 调休
    assert not calendar.package_covers(2027)


def test_leave_over_the_national_day_week_is_filed_and_placed(
    client: FlaskClient, world: World, session: Session
) -> None:
    body = created(file(client, world, id="leave-natl-day-1", attachment_ids=["scan-1"]))
    assert body["id"] == "leave-natl-day-1"
    assert body["status"] == "pending"
    assert body["teacher_id"] == str(world.teacher_a.id)
    assert body["host_school_id"] == str(world.member_a.id)
    assert body["secondment_id"] == str(world.secondment_a.id)
    assert (body["start_half"], body["end_half"]) == ("am", "pm")
    assert body["attachment_ids"] == ["scan-1"]
    assert body["filed_by_id"] == str(world.users["teacher_a"].id)
    [row] = fresh(session, sa.select(LeaveRequest).where(LeaveRequest.id == "leave-natl-day-1"))
    # Six workdays in the range: 09-28..30, 10-08, 10-09 and the 调休 Saturday 10-10.
    days = calendar.workdays(session, world.member_a.id, row.start_on, row.end_on)
    assert [d.day.isoformat() for d in days if d.workday] == [
        "2026-09-28",
        "2026-09-29",
        "2026-09-30",
        "2026-10-08",
        "2026-10-09",
        "2026-10-10",
    ]
    assert (row.first_half, row.last_half) == (
        date(2026, 9, 28).toordinal() * 2,
        date(2026, 10, 10).toordinal() * 2 + 1,
    )


def test_a_range_of_holidays_only_needs_no_leave(client: FlaskClient, world: World) -> None:
    refused(
        file(client, world, start_on="2026-10-01", end_on="2026-10-07"), 422, "no_workday_in_range"
    )
    refused(
        file(client, world, start_on="2026-10-11", end_on="2026-10-11"), 422, "no_workday_in_range"
    )
    # A worked weekend day (调休) is a workday: leave on it is leave.
    created(file(client, world, start_on="2026-09-20", end_on="2026-09-20"))
    created(file(client, world, start_on="2026-10-10", end_on="2026-10-10"))


def test_half_days_of_one_day_do_not_overlap_but_a_whole_day_does(
    client: FlaskClient, world: World
) -> None:
    day = "2026-09-22"
    morning = created(file(client, world, start_on=day, end_on=day, start_half="am", end_half="am"))
    created(file(client, world, start_on=day, end_on=day, start_half="pm", end_half="pm"))
    whole = refused(file(client, world, start_on=day, end_on=day), 422, "overlapping_leave")
    assert morning["id"] in whole["message"]
    assert whole["rule"] == RULE
    # Monday afternoon to Tuesday morning touches Tuesday's morning only: still overlaps.
    refused(
        file(client, world, start_on="2026-09-21", start_half="pm", end_on=day, end_half="am"),
        422,
        "overlapping_leave",
    )
    created(file(client, world, start_on="2026-09-21", start_half="pm", end_on="2026-09-21"))


def test_a_range_must_not_end_before_it_starts(client: FlaskClient, world: World) -> None:
    day = "2026-09-22"
    body = refused(
        file(client, world, start_on=day, start_half="pm", end_on=day, end_half="am"),
        422,
        "invalid_field",
    )
    assert "end_half" in body["errors"]["json"]
    refused(file(client, world, start_on="2026-09-23", end_on=day), 422, "invalid_field")
    refused(file(client, world, start_half="noon"), 422, "invalid_field")


def test_overlap_names_the_other_request_and_only_live_leave_blocks(
    client: FlaskClient, world: World
) -> None:
    first = created(file(client, world, id="first-leave"))
    clash = refused(
        file(client, world, start_on="2026-10-09", end_on="2026-10-12"), 422, "overlapping_leave"
    )
    assert "first-leave" in clash["message"] and "pending" in clash["message"]
    assert act(client, world, first["id"], "cancel", "teacher_a").status_code == 200
    second = created(file(client, world, start_on="2026-10-09", end_on="2026-10-12"))
    assert (
        act(client, world, second["id"], "reject", "host_admin_a", note="缺课太多").status_code
        == 200
    )
    created(file(client, world, start_on="2026-10-09", end_on="2026-10-12"))


def test_a_range_in_an_unpublished_year_is_refused(client: FlaskClient, world: World) -> None:
    body = refused(
        file(client, world, start_on="2026-12-28", end_on="2027-01-05"),
        422,
        "calendar_not_published",
    )
    assert "2027" in body["message"]


def test_leave_type_must_be_one_of_the_rules(client: FlaskClient, world: World) -> None:
    body = refused(file(client, world, leave_type="vacation"), 422, "unknown_leave_type")
    assert "sick" in body["message"] and "leave_type" in body["errors"]["json"]
    created(file(client, world, leave_type="training"))  # official duty is a type too


def test_the_range_lies_within_one_active_secondment(client: FlaskClient, world: World) -> None:
    # The secondment starts 2026-09-01.
    refused(
        file(client, world, start_on="2026-08-31", end_on="2026-09-02"),
        422,
        "no_active_secondment",
    )
    refused(file(client, world, "teacher_a2"), 422, "no_active_secondment")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 1001}, "reason"),
        ({"attachment_ids": [f"a{i}" for i in range(11)]}, "attachment_ids"),
        ({"attachment_ids": ["../etc/passwd"]}, "attachment_ids"),
        ({"id": "not an id"}, "id"),
    ],
)
def test_bad_values_are_422_naming_the_field(
    client: FlaskClient, world: World, changes: dict[str, Any], field: str
) -> None:
    body = refused(file(client, world, **changes), 422, "invalid_field")
    assert field in body["errors"]["json"]


def test_an_id_in_use_is_a_conflict(client: FlaskClient, world: World) -> None:
    created(file(client, world, id="dup-leave"))
    refused(
        file(client, world, id="dup-leave", start_on="2026-11-02", end_on="2026-11-02"),
        409,
        "id_in_use",
    )


def test_missing_fields_are_refused_by_the_schema(client: FlaskClient, world: World) -> None:
    body = leave()
    del body["reason"]
    response = client.post(LEAVE, json=body, headers=world.headers["teacher_a"])
    refused(response, 422, "validation_error")


# --- who files ------------------------------------------------------------------------------


def test_the_host_school_and_the_bureau_file_for_a_teacher_they_keep(
    client: FlaskClient, world: World
) -> None:
    teacher = str(world.teacher_a.id)
    body = created(file(client, world, "host_admin_a", teacher_id=teacher))
    assert body["filed_by_id"] == str(world.users["host_admin_a"].id)
    assert body["teacher_id"] == teacher
    created(
        file(
            client,
            world,
            "bureau_a",
            teacher_id=teacher,
            start_on="2026-11-02",
            end_on="2026-11-02",
        )
    )
    # The home school reads the teacher's leave but does not keep it; another county's
    # bureau does not see the teacher at all.
    for persona in ("school_admin_a", "bureau_b"):
        body = refused(
            file(
                client,
                world,
                persona,
                teacher_id=teacher,
                start_on="2026-11-03",
                end_on="2026-11-03",
            ),
            422,
            "validation_error",
        )
        assert "teacher_id" in body["errors"]["json"]
    refused(file(client, world, "host_admin_a"), 422, "invalid_field")  # whose leave?


def test_a_teacher_files_only_for_themself(client: FlaskClient, world: World) -> None:
    refused(
        file(client, world, "teacher_a", teacher_id=str(world.teacher_b.id)),
        422,
        "validation_error",
    )
    assert file(client, world, "inspector_a").status_code == 403


# --- editing --------------------------------------------------------------------------------


def test_a_pending_request_is_edited_with_its_etag_and_checked_again(
    client: FlaskClient, world: World
) -> None:
    headers = world.headers["teacher_a"]
    first = created(file(client, world, id="edit-me"))
    other = created(file(client, world, start_on="2026-11-02", end_on="2026-11-02"))
    url = f"{LEAVE}/edit-me"
    assert client.patch(url, json={"reason": "改"}, headers=headers).status_code == 428
    read = client.get(url, headers=headers)
    etag = read.headers["ETag"]
    changed = client.patch(
        url,
        json={"start_on": "2026-10-08", "leave_type": "sick", "reason": "发烧"},
        headers={**headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["start_on"], body["end_on"], body["leave_type"]) == (
        "2026-10-08",
        "2026-10-10",
        "sick",
    )
    stale = client.patch(url, json={"reason": "旧"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    etag = client.get(url, headers=headers).headers["ETag"]
    clash = client.patch(url, json={"end_on": "2026-11-02"}, headers={**headers, "If-Match": etag})
    assert other["id"] in refused(clash, 422, "overlapping_leave")["message"]
    assert act(client, world, first["id"], "approve", "host_admin_a").status_code == 200
    etag = client.get(url, headers=headers).headers["ETag"]
    late = client.patch(url, json={"reason": "再改"}, headers={**headers, "If-Match": etag})
    refused(late, 409, "already_decided")


# --- deciding -------------------------------------------------------------------------------


def test_only_the_host_school_or_its_bureau_decides(
    client: FlaskClient, world: World, session: Session
) -> None:
    request_id = created(file(client, world))["id"]
    assert act(client, world, request_id, "approve", "teacher_a").status_code == 403
    assert act(client, world, request_id, "approve", "inspector_a").status_code == 403
    for outsider in ("school_admin_a", "school_admin_b", "bureau_b"):
        refused(act(client, world, request_id, "approve", outsider), 404, "not_found")
    approved = act(client, world, request_id, "approve", "host_admin_a", note="同意")
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["status"] == "approved" and body["decision_note"] == "同意"
    assert body["decided_by_id"] == str(world.users["host_admin_a"].id)
    assert body["decided_at"]
    refused(act(client, world, request_id, "approve", "bureau_a"), 409, "already_decided")
    refused(
        act(client, world, request_id, "reject", "host_admin_a", note="不"), 409, "already_decided"
    )
    [row] = fresh(session, sa.select(LeaveRequest).where(LeaveRequest.id == request_id))
    assert row.status == "approved" and row.decided_by_id == world.users["host_admin_a"].id


def test_a_rejection_says_why(client: FlaskClient, world: World) -> None:
    request_id = created(file(client, world))["id"]
    body = refused(act(client, world, request_id, "reject", "bureau_a"), 422, "invalid_field")
    assert "note" in body["errors"]["json"]
    rejected = act(client, world, request_id, "reject", "bureau_a", note="期中考试周，不能请假")
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    refused(act(client, world, request_id, "cancel", "teacher_a"), 409, "already_decided")


# --- cancelling -----------------------------------------------------------------------------


def test_cancelling_pending_and_approved_leave(
    client: FlaskClient, world: World, set_today: Callable[[date], None]
) -> None:
    pending = created(file(client, world, start_on="2026-09-16", end_on="2026-09-16"))
    set_today(date(2026, 9, 17))  # a pending request is withdrawn even once it has begun
    cancelled = act(client, world, pending["id"], "cancel", "teacher_a")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["cancelled_at"]
    refused(act(client, world, pending["id"], "cancel", "teacher_a"), 409, "already_cancelled")

    early = created(file(client, world))  # 2026-09-28 ..
    assert act(client, world, early["id"], "approve", "host_admin_a").status_code == 200
    assert act(client, world, early["id"], "cancel", "teacher_a").status_code == 200

    started = created(file(client, world))
    assert act(client, world, started["id"], "approve", "host_admin_a").status_code == 200
    set_today(date(2026, 9, 28))  # its first day
    body = refused(act(client, world, started["id"], "cancel", "teacher_a"), 422, "not_cancellable")
    assert body["rule"] == RULE
    # The host school, which approved it, may still withdraw it.
    assert act(client, world, started["id"], "cancel", "host_admin_a").status_code == 200
    assert act(client, world, started["id"], "cancel", "teacher_b").status_code == 404


# --- reading --------------------------------------------------------------------------------


def test_lists_are_scoped_filtered_and_paged(client: FlaskClient, world: World) -> None:
    ids = [
        created(file(client, world, start_on=day, end_on=day))["id"]
        for day in ("2026-09-16", "2026-09-17", "2026-09-18")
    ]
    act(client, world, ids[0], "approve", "host_admin_a")

    def listed(persona: str, query: str = "") -> list[str]:
        response = client.get(f"{LEAVE}?{query}", headers=world.headers[persona])
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    for persona in ("teacher_a", "host_admin_a", "school_admin_a", "bureau_a", "inspector_a"):
        assert sorted(listed(persona)) == sorted(ids), persona
    for persona in ("teacher_b", "school_admin_b", "bureau_b", "teacher_a2"):
        assert listed(persona) == [], persona
    assert listed("host_admin_a", "status=approved") == [ids[0]]
    assert sorted(listed("host_admin_a", "from=2026-09-17&to=2026-09-17")) == [ids[1]]
    assert sorted(listed("bureau_a", f"teacher_id={world.teacher_a.id}")) == sorted(ids)
    assert listed("bureau_a", f"host_school_id={world.core_a.id}") == []

    page = client.get(f"{LEAVE}?limit=2", headers=world.headers["teacher_a"]).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        f"{LEAVE}?limit=2&cursor={page['next_cursor']}", headers=world.headers["teacher_a"]
    ).get_json()
    assert [i["id"] for i in page["items"] + rest["items"]] == sorted(ids)
    assert rest["next_cursor"] is None
    bad = client.get(f"{LEAVE}?cursor=%%%", headers=world.headers["teacher_a"])
    refused(bad, 422, "validation_error")


def test_one_request_is_read_in_scope_only(client: FlaskClient, world: World) -> None:
    request_id = created(file(client, world))["id"]
    for persona in ("teacher_a", "host_admin_a", "school_admin_a", "bureau_a"):
        assert (
            client.get(f"{LEAVE}/{request_id}", headers=world.headers[persona]).status_code == 200
        )
    for persona in ("teacher_b", "school_admin_b", "bureau_b"):
        response = client.get(f"{LEAVE}/{request_id}", headers=world.headers[persona])
        refused(response, 404, "not_found")


# --- the database guard (PostgreSQL) ----------------------------------------------------------


def test_a_concurrent_overlap_caught_by_the_constraint_is_the_same_422(
    client: FlaskClient,
    world: World,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not is_postgres:
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite's single writer serializes")
    created(file(client, world, id="racer-one"))
    real = services._leave_clash
    calls: list[int] = []

    def blind_once(*args: Any) -> LeaveRequest | None:
        # The first look misses the rival, as a transaction that began before it
        # committed would; the one after the constraint fires sees it.
        calls.append(1)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(services, "_leave_clash", blind_once)
    body = refused(file(client, world, start_on="2026-10-09"), 422, "overlapping_leave")
    assert "racer-one" in body["message"]
