"""Schema version 2: leave requests and punch corrections pushed and pulled by phones.

The writers apply the same rules as the API (tests/attendance/test_leave_requests.py and
test_punch_corrections.py); here: attribution, edits, cancelling by status or by delete,
the push's own batch, quarantine with the rule's code, the echo, and version 1 phones.

"Today" is fixed at Monday 2026-10-12 (China time).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance.request_models import LeaveRequest, PunchCorrection
from sync.models import QuarantinedRecord
from sync.protocol import SCHEMA_VERSION_MAX
from tests.factories import World, fresh
from tests.sync.phone import Phone, phone_for

TODAY = date(2026, 10, 12)
NEW = ("leave_requests", "punch_corrections")


@pytest.fixture
def set_today(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    def move(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    move(TODAY)
    return move


@pytest.fixture
def v2(phone: Phone, set_today: Callable[[date], None]) -> Phone:
    """Teacher A's phone on schema version 2, pulled once."""
    phone.schema_version = 2
    phone.pull()
    return phone


def leave(record_id: str, **values: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": record_id,
        "leave_type": "sick",
        "start_on": "2026-10-19",
        "start_half": "am",
        "end_on": "2026-10-20",
        "end_half": "pm",
        "reason": "感冒发烧",
        "attachment_ids": "[]",
        "status": None,
    }
    record.update(values)
    return record


def correction(record_id: str, **values: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": record_id,
        "day": "2026-10-09",
        "kind": "in",
        "time": "07:58",
        "reason": "忘记打卡",
        "attachment_ids": "[]",
        "status": None,
    }
    record.update(values)
    return record


def push(phone: Phone, **tables: dict[str, list[Any]]) -> dict[str, Any]:
    changes = {
        name: {"created": [], "updated": [], "deleted": [], **ops} for name, ops in tables.items()
    }
    response = phone.push_request(changes)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def stored_leave(session: Session, record_id: str) -> LeaveRequest:
    [row] = fresh(session, sa.select(LeaveRequest).where(LeaveRequest.id == record_id))
    return row


def pulled(phone: Phone, table: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in phone.pull()["changes"][table]["updated"]}


def quarantine(session: Session, record_id: str) -> QuarantinedRecord:
    return session.scalars(
        sa.select(QuarantinedRecord).where(QuarantinedRecord.record_id == record_id)
    ).one()


# --- versions -------------------------------------------------------------------------------


def test_version_1_phones_never_see_the_new_tables(phone: Phone) -> None:
    assert SCHEMA_VERSION_MAX >= 2
    assert not set(NEW) & set(phone.pull()["changes"])
    phone.schema_version = 2
    phone.last_pulled_at = None
    assert set(NEW) <= set(phone.pull()["changes"])


def test_a_phone_migrating_to_2_gets_the_tables_in_full(
    phone: Phone, client: FlaskClient, world: World, set_today: Callable[[date], None]
) -> None:
    filed = client.post(
        "/api/v1/leave-requests",
        json={
            "leave_type": "sick",
            "start_on": "2026-10-19",
            "end_on": "2026-10-19",
            "reason": "病",
        },
        headers=world.headers["teacher_a"],
    )
    assert filed.status_code == 201, filed.get_json()
    phone.pull()  # version 1: nothing of it
    migration = json.dumps({"from": 1, "tables": [], "columns": []})
    response = phone.client.get(
        f"/api/v1/sync?last_pulled_at={phone.last_pulled_at}&schema_version=2"
        f"&migration={migration}",
        headers=phone.headers,
    )
    assert response.status_code == 200, response.get_json()
    records = response.get_json()["changes"]["leave_requests"]["updated"]
    assert [r["id"] for r in records] == [filed.get_json()["id"]]


# --- pushing ----------------------------------------------------------------------------------


def test_a_phone_creates_edits_and_cancels_requests(
    v2: Phone, session: Session, world: World
) -> None:
    forged = leave("L-phone-1", teacher_id=str(world.teacher_b.id), status="approved")
    body = push(
        v2,
        leave_requests={"created": [forged]},
        punch_corrections={"created": [correction("C-phone-1")]},
    )
    assert body["applied"] == 2 and body["quarantined"] == 0
    row = stored_leave(session, "L-phone-1")
    assert row.teacher_id == world.teacher_a.id and row.status == "pending"
    assert row.host_school_id == world.member_a.id
    assert row.filed_by_id == world.users["teacher_a"].id and row.device_pk is not None

    changes = v2.pull()["changes"]
    [record] = changes["leave_requests"]["updated"]
    assert record["id"] == "L-phone-1" and record["status"] == "pending"
    assert record["flags"] == "[]" and record["teacher_id"] == str(world.teacher_a.id)
    assert record["host_school_id"] == str(world.member_a.id)
    [fix] = changes["punch_corrections"]["updated"]
    assert (fix["id"], fix["time"], fix["status"]) == ("C-phone-1", "07:58", "pending")

    # An edit re-checks the whole request; replaying it changes nothing.
    edited = leave("L-phone-1", end_on="2026-10-21", reason="病假延长", status="pending")
    assert push(v2, leave_requests={"updated": [edited]})["applied"] == 1
    row = stored_leave(session, "L-phone-1")
    assert row.end_on == date(2026, 10, 21) and row.reason == "病假延长"
    v2.pull()
    assert push(v2, leave_requests={"updated": [edited]})["unchanged"] == 1

    # Withdrawn by status...
    v2.pull()
    push(v2, leave_requests={"updated": [{**edited, "status": "cancelled"}]})
    assert stored_leave(session, "L-phone-1").status == "cancelled"
    # ...or by deleting it on the phone: it comes back, cancelled.
    v2.pull()
    push(v2, punch_corrections={"deleted": ["C-phone-1"]})
    [fixed] = fresh(session, sa.select(PunchCorrection).where(PunchCorrection.id == "C-phone-1"))
    assert fixed.status == "cancelled" and fixed.deleted_at is None
    assert pulled(v2, "punch_corrections")["C-phone-1"]["status"] == "cancelled"


def test_an_overlapping_leave_is_quarantined_and_echoed(v2: Phone, session: Session) -> None:
    push(v2, leave_requests={"created": [leave("L-first")]})
    v2.pull()
    clash = leave("L-clash", start_on="2026-10-20", end_on="2026-10-22")
    body = push(
        v2,
        leave_requests={
            "created": [clash, leave("L-fine", start_on="2026-10-26", end_on="2026-10-26")]
        },
    )
    assert body["applied"] == 1 and body["quarantined"] == 1
    entry = quarantine(session, "L-clash")
    assert entry.reason == "overlapping_leave" and "L-first" in entry.detail
    assert session.get(LeaveRequest, "L-clash") is None
    echo = pulled(v2, "leave_requests")["L-clash"]
    assert echo["status"] == "quarantined"
    assert json.loads(echo["flags"])[0]["code"] == "overlapping_leave"
    assert echo["start_on"] == "2026-10-20"  # the phone's own values come back


def test_a_push_is_checked_against_its_own_earlier_records(v2: Phone, session: Session) -> None:
    push(
        v2,
        leave_requests={"created": [leave("L-stored", start_on="2026-11-02", end_on="2026-11-02")]},
    )
    v2.pull()
    body = push(
        v2,
        leave_requests={
            "created": [
                leave("L-a", start_on="2026-10-19", end_on="2026-10-19", end_half="am"),
                leave("L-b", start_on="2026-10-19", end_on="2026-10-19", start_half="pm"),
                leave("L-c", start_on="2026-10-19", end_on="2026-10-20"),
            ],
            # An edit in the same push sees the new rows too.
            "updated": [
                leave("L-stored", start_on="2026-10-19", end_on="2026-11-02", status="pending")
            ],
        },
        punch_corrections={
            "created": [
                correction("C-1", day="2026-10-08"),
                correction("C-2", day="2026-10-09"),
                correction("C-3", day="2026-10-09"),  # the same day and kind as C-2
                correction("C-4", day="2026-10-10"),
                correction("C-5", day="2026-10-12"),  # the fourth of October
            ]
        },
    )
    assert body["applied"] == 5 and body["quarantined"] == 4
    reasons = {q.record_id: q.reason for q in session.scalars(sa.select(QuarantinedRecord))}
    assert reasons == {
        "L-c": "overlapping_leave",
        "L-stored": "overlapping_leave",
        "C-3": "duplicate_correction",
        "C-5": "correction_cap_reached",
    }
    assert stored_leave(session, "L-stored").start_on == date(2026, 11, 2)  # unchanged


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"day": "2026-09-30"}, "correction_window_exceeded"),
        ({"day": "2026-10-11"}, "not_a_workday"),
        ({"day": "2026-10-13"}, "day_in_future"),
        ({"time": "25:00"}, "invalid_field"),
        ({"day": "2026-13-01"}, "invalid_field"),
    ],
)
def test_corrections_breaking_a_rule_are_quarantined_with_its_code(
    v2: Phone, session: Session, values: dict[str, Any], reason: str
) -> None:
    records = [correction("C-bad", **values), correction("C-good", day="2026-10-08")]
    body = push(v2, punch_corrections={"created": records})
    assert body["quarantined"] == 1 and body["applied"] == 1
    assert quarantine(session, "C-bad").reason == reason


def test_leave_in_an_unpublished_year_is_quarantined(v2: Phone, session: Session) -> None:
    records = [leave("L-2027", start_on="2026-12-30", end_on="2027-01-04"), leave("L-ok")]
    assert push(v2, leave_requests={"created": records})["quarantined"] == 1
    assert quarantine(session, "L-2027").reason == "calendar_not_published"


def test_a_push_whose_only_new_record_is_refused_is_quarantined(
    v2: Phone, session: Session
) -> None:
    body = push(v2, punch_corrections={"created": [correction("C-alone", day="2026-10-13")]})
    assert body["quarantined"] == 1
    assert quarantine(session, "C-alone").reason == "day_in_future"


def test_a_decided_request_is_no_longer_the_phones_to_edit(
    v2: Phone, client: FlaskClient, world: World, session: Session
) -> None:
    push(v2, leave_requests={"created": [leave("L-decided")]})
    v2.pull()
    approved = client.post(
        "/api/v1/leave-requests/L-decided/approve", json={}, headers=world.headers["host_admin_a"]
    )
    assert approved.status_code == 200, approved.get_json()
    edit = leave("L-decided", reason="改一下", status="pending")
    assert (
        v2.push_request(
            {"leave_requests": {"created": [], "updated": [edit], "deleted": []}}
        ).status_code
        == 409
    )
    record = pulled(v2, "leave_requests")["L-decided"]
    assert record["status"] == "approved" and record["decided_at"]
    body = push(v2, leave_requests={"updated": [{**edit, "status": "approved"}]})
    assert body["quarantined"] == 1
    assert quarantine(session, "L-decided").reason == "already_decided"
    # The stored request is the truth the phone gets back.
    assert pulled(v2, "leave_requests")["L-decided"]["reason"] == "感冒发烧"


def test_an_approved_leave_cancelled_before_it_starts_and_not_after(
    v2: Phone,
    client: FlaskClient,
    world: World,
    session: Session,
    set_today: Callable[[date], None],
) -> None:
    push(
        v2,
        leave_requests={
            "created": [
                leave("L-early"),
                leave("L-late", start_on="2026-10-26", end_on="2026-10-26"),
            ]
        },
    )
    for record_id in ("L-early", "L-late"):
        response = client.post(
            f"/api/v1/leave-requests/{record_id}/approve",
            json={},
            headers=world.headers["host_admin_a"],
        )
        assert response.status_code == 200
    v2.pull()
    push(v2, leave_requests={"deleted": ["L-late"]})
    assert stored_leave(session, "L-late").status == "cancelled"

    set_today(date(2026, 10, 19))  # L-early has begun
    v2.pull()
    body = push(v2, leave_requests={"updated": [leave("L-early", status="cancelled")]})
    assert body["quarantined"] == 1
    assert quarantine(session, "L-early").reason == "not_cancellable"
    assert stored_leave(session, "L-early").status == "approved"
    # Deleting it on the phone cannot cancel it either: it comes back as it is.
    v2.pull()
    push(v2, leave_requests={"deleted": ["L-early"]})
    assert stored_leave(session, "L-early").status == "approved"
    assert pulled(v2, "leave_requests")["L-early"]["status"] == "approved"


def test_a_request_created_and_withdrawn_in_one_push_is_stored_cancelled(
    v2: Phone, session: Session
) -> None:
    body = push(
        v2,
        leave_requests={
            "created": [leave("L-oops"), leave("L-cancelled", status="cancelled")],
            "deleted": ["L-oops"],
        },
    )
    assert body["applied"] == 3 and body["quarantined"] == 0
    assert stored_leave(session, "L-oops").status == "cancelled"
    # Neither blocks the same days: cancelled leave is not live.
    assert stored_leave(session, "L-cancelled").status == "cancelled"
    v2.pull()
    assert push(v2, leave_requests={"created": [leave("L-real")]})["applied"] == 1


def test_only_teachers_push_requests(
    client: FlaskClient, session: Session, world: World, set_today: Callable[[date], None]
) -> None:
    admin = phone_for(client, session, world, "host_admin_a")
    admin.schema_version = 2
    admin.pull()
    body = push(admin, leave_requests={"created": [leave("L-admin")]})
    assert body["quarantined"] == 1 and quarantine(session, "L-admin").reason == "not_writable"


# --- pulling ----------------------------------------------------------------------------------


def test_the_phone_keeps_two_months_and_everything_pending(
    v2: Phone, client: FlaskClient, world: World, set_today: Callable[[date], None]
) -> None:
    push(
        v2,
        leave_requests={
            "created": [
                leave("L-old-approved", start_on="2026-10-13", end_on="2026-10-13"),
                leave("L-old-pending", start_on="2026-10-14", end_on="2026-10-14"),
            ]
        },
        punch_corrections={"created": [correction("C-old")]},
    )
    response = client.post(
        "/api/v1/leave-requests/L-old-approved/approve",
        json={},
        headers=world.headers["host_admin_a"],
    )
    assert response.status_code == 200
    set_today(date(2027, 1, 20))  # 62 days back is 2026-11-19
    v2.last_pulled_at = None
    changes = v2.pull()["changes"]
    assert [r["id"] for r in changes["leave_requests"]["updated"]] == ["L-old-pending"]
    assert [r["id"] for r in changes["punch_corrections"]["updated"]] == ["C-old"]  # pending
    record = changes["punch_corrections"]["updated"][0]
    assert record["time"] == "07:58" and record["day"] == "2026-10-09"
