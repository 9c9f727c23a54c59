"""Pull: only what the caller may see; records that leave the scope leave the phone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from backend.auth.models import Device
from backend.clock import today
from backend.db import utcnow
from tests import factories
from tests.factories import World
from tests.sync.phone import Phone, check_in, phone_for


def _ids(body: dict[str, object], table: str, op: str = "updated") -> set[str]:
    changes = body["changes"]
    assert isinstance(changes, dict)
    return {r["id"] if isinstance(r, dict) else r for r in changes[table][op]}


def _push_one(phone: Phone, record_id: str) -> None:
    response = phone.push_request(
        {"check_ins": {"created": [check_in(record_id)], "updated": [], "deleted": []}}
    )
    assert response.status_code == 200, response.json


def test_nobody_pulls_anyone_elses_records(
    phone: Phone, client: FlaskClient, session: Session, world: World
) -> None:
    phone.pull()
    _push_one(phone, "mine000000000001")
    other = phone_for(client, session, world, "teacher_b")
    body = other.pull()
    assert "mine000000000001" not in _ids(body, "check_ins")
    assert _ids(body, "secondments") == {str(world.secondment_b.id)}
    assert str(world.core_a.id) not in _ids(body, "schools")
    admin = phone_for(client, session, world, "school_admin_a").pull()
    assert _ids(admin, "check_ins") == set() and _ids(admin, "secondments") == set()


def test_cancelled_secondment_and_its_host_school_leave_the_phone(
    phone: Phone, client: FlaskClient, world: World
) -> None:
    phone.pull()
    cancel = client.post(
        f"/api/v1/secondments/{world.secondment_a.id}/cancel",
        json={"reason": "returned home"},
        headers=world.headers["bureau_a"],
    )
    assert cancel.status_code == 200, cancel.json
    body = phone.pull()
    assert _ids(body, "secondments", "deleted") == {str(world.secondment_a.id)}
    assert _ids(body, "schools", "deleted") == {str(world.member_a.id)}  # home school stays
    assert phone.table("schools").keys() == {str(world.core_a.id)}


def test_ended_secondment_leaves_the_phone(phone: Phone, session: Session, world: World) -> None:
    phone.pull()
    secondment = world.secondment_a
    session.refresh(secondment)
    secondment.start_on = today() - timedelta(days=200)
    secondment.end_on = today() - timedelta(days=1)  # ended yesterday: no write happens today
    session.commit()
    body = phone.pull()
    assert str(secondment.id) in _ids(body, "secondments", "deleted")


def test_school_leaving_a_community_leaves_the_partner_admins_phone(
    client: FlaskClient, session: Session, world: World
) -> None:
    admin = phone_for(client, session, world, "school_admin_a")
    assert str(world.member_a.id) in _ids(admin.pull(), "schools")
    change = client.post(
        f"/api/v1/communities/{world.community_a.id}/membership-changes",
        json={"school_id": str(world.member_a.id), "action": "leave", "effective_on": "2027-02-01"},
        headers=world.headers["bureau_a"],
    )
    assert change.status_code == 201, change.json
    approved = client.post(
        f"/api/v1/communities/membership-changes/{change.json['id']}/approve",  # type: ignore[index]
        json={},
        headers=world.headers["bureau_a"],
    )
    assert approved.status_code == 200, approved.json
    assert _ids(admin.pull(), "schools", "deleted") == {str(world.member_a.id)}


def test_newly_granted_access_brings_old_records(
    client: FlaskClient, session: Session, world: World, app: object
) -> None:
    other = phone_for(client, session, world, "teacher_a2")
    first = other.pull()
    assert _ids(first, "schools") == {str(world.core_a.id)}
    factories.secondment(session, world.teacher_a2, world.member_a)
    session.commit()
    # member_a has not changed since long before the cursor, yet it must arrive now.
    assert str(world.member_a.id) in _ids(other.pull(), "schools")


def test_delete_reaches_the_users_second_phone(
    phone: Phone, client: FlaskClient, session: Session, world: World
) -> None:
    device = Device(user_id=world.users["teacher_a"].id, device_id="second-phone-0001")
    session.add(device)
    session.commit()
    from backend.auth.tokens import issue_access_token
    from backend.extensions import settings_of

    token = issue_access_token(settings_of(client.application), device.user_id, device.id)
    second = Phone(client, {"Authorization": f"Bearer {token}"}, device.device_id)
    phone.pull()
    _push_one(phone, "gone000000000001")
    assert "gone000000000001" in _ids(second.pull(), "check_ins")
    phone.pull()
    deleted = phone.push_request(
        {"check_ins": {"created": [], "updated": [], "deleted": ["gone000000000001"]}}
    )
    assert deleted.status_code == 200
    assert _ids(second.pull(), "check_ins", "deleted") == {"gone000000000001"}
    assert "gone000000000001" not in second.table("check_ins")


def test_server_side_tombstone_is_pulled_as_deleted(phone: Phone, session: Session) -> None:
    phone.pull()
    _push_one(phone, "tomb000000000001")
    phone.pull()
    row = session.get(CheckIn, "tomb000000000001")
    assert row is not None
    row.deleted_at = utcnow()
    session.commit()
    assert _ids(phone.pull(), "check_ins", "deleted") == {"tomb000000000001"}


def test_unchanged_records_are_not_sent_again(phone: Phone) -> None:
    first = phone.pull()
    assert _ids(first, "schools")
    again = phone.pull()
    assert all(not again["changes"][t]["updated"] for t in again["changes"])
    assert all(not again["changes"][t]["deleted"] for t in again["changes"])


def test_unknown_cursor_gets_a_full_replacement(phone: Phone, world: World) -> None:
    phone.pull()
    phone.last_pulled_at = 1  # a cursor this server never gave this device
    body = phone.pull()
    assert body["experimentalStrategy"] == "replacement"
    assert _ids(body, "secondments") == {str(world.secondment_a.id)}


def test_migration_gets_the_named_tables_in_full(phone: Phone, client: FlaskClient) -> None:
    phone.pull()
    cursor = phone.last_pulled_at
    migration = json.dumps({"from": 1, "tables": ["schools"], "columns": []})
    response = client.get(
        f"/api/v1/sync?last_pulled_at={cursor}&schema_version=1&migration={migration}",
        headers=phone.headers,
    )
    assert response.status_code == 200, response.json
    body = response.get_json()
    assert len(body["changes"]["schools"]["updated"]) == 2
    assert body["changes"]["secondments"]["updated"] == []


def test_old_check_ins_leave_the_window(phone: Phone, session: Session) -> None:
    phone.pull()
    _push_one(phone, "old0000000000001")
    phone.pull()
    row = session.get(CheckIn, "old0000000000001")
    assert row is not None
    row.received_at = utcnow() - timedelta(days=90)
    session.commit()
    assert _ids(phone.pull(), "check_ins", "deleted") == {"old0000000000001"}


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("last_pulled_at=abc&schema_version=1", 400, "bad_sync_request"),
        ("last_pulled_at=null", 400, "bad_sync_request"),
        ("last_pulled_at=null&schema_version=0", 426, "upgrade_required"),
        ("last_pulled_at=null&schema_version=99", 400, "bad_sync_request"),
        ("last_pulled_at=null&schema_version=1&migration={bad", 400, "bad_sync_request"),
        ("last_pulled_at=null&schema_version=1&migration=[1]", 400, "bad_sync_request"),
    ],
)
def test_bad_pull_requests(
    phone: Phone, client: FlaskClient, query: str, status: int, code: str
) -> None:
    response = client.get(f"/api/v1/sync?{query}", headers=phone.headers)
    assert response.status_code == status, response.json
    assert response.json is not None and response.json["code"] == code


def test_pull_needs_a_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/sync?last_pulled_at=null&schema_version=1").status_code == 401
