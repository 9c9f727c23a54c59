"""Push: idempotent, transactional, conflict-checked, and never blocked by a bad record."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from backend.attendance.services import flag
from sync.models import QuarantinedRecord, SyncPush
from sync.protocol import MAX_PUSH_BYTES, MAX_PUSH_RECORDS
from tests.factories import World
from tests.sync.phone import CAPTURED_AT, Phone, check_in, phone_for


def _push(phone: Phone, **tables: dict[str, list[object]]) -> dict[str, object]:
    changes = {
        name: {"created": [], "updated": [], "deleted": [], **ops} for name, ops in tables.items()
    }
    response = phone.push_request(changes)
    assert response.status_code == 200, response.json
    body: dict[str, object] = response.get_json()
    return body


def _count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(CheckIn)) or 0


def test_recreated_record_is_an_update_of_the_same_row(phone: Phone, session: Session) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("abc0000000000001")]})
    # The response was lost: the phone still thinks it is "created", edits it, syncs again.
    phone.pull()
    body = _push(phone, check_ins={"created": [check_in("abc0000000000001", note="补充说明")]})
    assert body["applied"] == 1
    assert _count(session) == 1
    row = session.get(CheckIn, "abc0000000000001")
    assert row is not None
    session.refresh(row)
    assert row.note == "补充说明"


def test_push_is_attributed_to_the_tokens_teacher(
    phone: Phone, session: Session, world: World
) -> None:
    phone.pull()
    forged = check_in("abc0000000000002", teacher_id=str(world.teacher_b.id))
    _push(phone, check_ins={"created": [forged]})
    row = session.get(CheckIn, "abc0000000000002")
    assert row is not None and row.teacher_id == world.teacher_a.id


def test_server_owned_fields_are_ignored(phone: Phone, session: Session) -> None:
    phone.pull()
    record = check_in("abc0000000000003", status="rejected", flags="[]", received_at=1)
    _push(phone, check_ins={"created": [record]})
    row = session.get(CheckIn, "abc0000000000003")
    assert row is not None and row.status == "accepted" and row.received_at.year >= 2026


def test_delete_of_unknown_or_foreign_id_is_ignored(
    phone: Phone, client: FlaskClient, session: Session, world: World
) -> None:
    other = phone_for(client, session, world, "teacher_a2")
    other.pull()
    _push(other, check_ins={"created": [check_in("foreign000000001")]})
    phone.pull()
    body = _push(phone, check_ins={"deleted": ["nobody0000000001", "foreign000000001"]})
    assert body["ignored"] == 2
    row = session.get(CheckIn, "foreign000000001")
    assert row is not None and row.deleted_at is None


def test_delete_keeps_a_tombstone(phone: Phone, session: Session) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("abc0000000000004")]})
    phone.pull()
    _push(phone, check_ins={"deleted": ["abc0000000000004"]})
    row = session.get(CheckIn, "abc0000000000004")
    assert row is not None
    session.refresh(row)
    assert row.deleted_at is not None  # kept: pay data is never destroyed


def test_server_change_after_pull_is_409_and_nothing_applies(
    phone: Phone, session: Session
) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("abc0000000000005")]})
    phone.pull()
    # The server changes the record after the phone's pull (e.g. an admin flags it).
    row = session.get(CheckIn, "abc0000000000005")
    assert row is not None
    flag(row, "reviewed", "checked by the host school")
    session.commit()  # its own unit of work (a savepoint here), with its own serial
    changes = {
        "check_ins": {
            "created": [check_in("abc0000000000006")],
            "updated": [check_in("abc0000000000005", note="我的备注")],
            "deleted": [],
        }
    }
    conflict = phone.push_request(changes)
    assert conflict.status_code == 409
    assert conflict.json is not None
    assert conflict.json["errors"]["conflicts"] == {"check_ins": ["abc0000000000005"]}
    assert session.get(CheckIn, "abc0000000000006") is None  # the other record waited too
    # The client pulls, merges and pushes again: now it goes through.
    phone.pull()
    retry = phone.push_request(changes)
    assert retry.status_code == 200, retry.json
    session.refresh(row)
    assert row.note == "我的备注" and row.flags[0]["code"] == "reviewed"


def test_invalid_record_is_quarantined_and_the_rest_applies(
    phone: Phone, session: Session, world: World
) -> None:
    phone.pull()
    bad = check_in("bad0000000000001", kind="sideways", latitude=95)
    body = _push(phone, check_ins={"created": [check_in("good000000000001"), bad]})
    assert body["applied"] == 1 and body["quarantined"] == 1
    assert session.get(CheckIn, "good000000000001") is not None
    assert session.get(CheckIn, "bad0000000000001") is None
    entry = session.scalars(
        sa.select(QuarantinedRecord).where(QuarantinedRecord.record_id == "bad0000000000001")
    ).one()
    assert entry.payload == bad  # raw, whole: nothing lost
    assert entry.reason == "invalid_field" and "kind" in entry.detail
    assert entry.user_id == world.users["teacher_a"].id
    # The phone learns the record's fate on its next pull...
    pulled = {r["id"]: r for r in phone.pull()["changes"]["check_ins"]["updated"]}
    assert pulled["bad0000000000001"]["status"] == "quarantined"
    assert json.loads(pulled["bad0000000000001"]["flags"])[0]["code"] == "invalid_field"
    # ...and pushing the same bad record again changes nothing.
    _push(phone, check_ins={"created": [bad]})
    session.refresh(entry)
    assert entry.attempts == 1


def test_id_of_someone_elses_record_is_quarantined_not_leaked(
    phone: Phone, client: FlaskClient, session: Session, world: World
) -> None:
    other = phone_for(client, session, world, "teacher_b")
    other.pull()
    _push(other, check_ins={"created": [check_in("shared0000000001", note="B's")]})
    phone.pull()
    body = _push(phone, check_ins={"created": [check_in("shared0000000001", note="A's")]})
    assert body["quarantined"] == 1
    row = session.get(CheckIn, "shared0000000001")
    assert row is not None
    session.refresh(row)
    assert row.note == "B's" and row.teacher_id == world.teacher_b.id
    pulled = phone.pull()["changes"]["check_ins"]["updated"]
    assert [r["note"] for r in pulled if r["id"] == "shared0000000001"] == ["A's"]


def test_read_only_tables_and_wrong_roles_are_quarantined(
    phone: Phone, client: FlaskClient, session: Session, world: World
) -> None:
    phone.pull()
    school = {"id": str(world.core_a.id), "name": "renamed"}
    body = _push(phone, schools={"updated": [school]})
    assert body["quarantined"] == 1
    session.refresh(world.core_a)
    assert world.core_a.name != "renamed"
    inspector = phone_for(client, session, world, "inspector_a")
    inspector.pull()
    body = _push(inspector, check_ins={"created": [check_in("insp000000000001")]})
    assert body["quarantined"] == 1 and session.get(CheckIn, "insp000000000001") is None


def test_changing_where_or_when_is_refused_and_the_phone_gets_the_truth(
    phone: Phone, session: Session
) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("abc0000000000007")]})
    phone.pull()
    moved = check_in("abc0000000000007", latitude=36.5, captured_at=CAPTURED_AT - 3_600_000)
    body = _push(phone, check_ins={"updated": [moved]})
    assert body["quarantined"] == 1
    row = session.get(CheckIn, "abc0000000000007")
    assert row is not None
    session.refresh(row)
    assert row.latitude == pytest.approx(35.96)
    pulled = {r["id"]: r for r in phone.pull()["changes"]["check_ins"]["updated"]}
    assert pulled["abc0000000000007"]["latitude"] == pytest.approx(35.96)
    assert "update_rejected" in pulled["abc0000000000007"]["flags"]


def test_device_clock_is_recorded(phone: Phone, session: Session) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("abc0000000000008")]})
    row = session.get(CheckIn, "abc0000000000008")
    assert row is not None
    assert row.push_boot_id == "boot-1" and row.push_elapsed_ms == 500_000
    assert row.clock_skew_ms is not None and abs(row.clock_skew_ms) < 60_000
    receipt = session.scalars(sa.select(SyncPush).order_by(SyncPush.received_at.desc())).first()
    assert receipt is not None and receipt.device_boot_id == "boot-1"
    assert abs(receipt.skew_ms) < 60_000 and receipt.applied == 1


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda p: p.update(data="not json"), 400, "bad_sync_request"),
        (lambda p: p.update(data=json.dumps([1])), 400, "bad_sync_request"),
        (lambda p: p.update(data=json.dumps({"payroll": {}})), 422, "unknown_table"),
        (
            lambda p: p.update(data=json.dumps({"check_ins": {"created": {}}})),
            400,
            "bad_sync_request",
        ),
        (
            lambda p: p.update(data=json.dumps({"check_ins": {"created": [{"id": 5}]}})),
            400,
            "bad_sync_request",
        ),
        (
            lambda p: p.update(data=json.dumps({"check_ins": {"upserted": []}})),
            400,
            "bad_sync_request",
        ),
        (lambda p: p["headers"].pop("X-Device-Time"), 400, "bad_sync_request"),
        (lambda p: p["headers"].pop("X-Device-Id"), 400, "bad_sync_request"),
        (lambda p: p["headers"].update({"X-Device-Time": "yesterday"}), 400, "bad_sync_request"),
        (
            lambda p: p["headers"].update({"X-Device-Id": "someone-elses-phone"}),
            403,
            "device_mismatch",
        ),
        (lambda p: p.update(url="/api/v1/sync?last_pulled_at=null"), 400, "bad_sync_request"),
        (
            lambda p: p.update(url="/api/v1/sync?last_pulled_at=5&schema_version=0"),
            426,
            "upgrade_required",
        ),
        (
            lambda p: p.update(
                data=json.dumps(
                    {
                        "check_ins": {
                            "created": [check_in(f"n{i:015d}") for i in range(MAX_PUSH_RECORDS + 1)]
                        }
                    }
                )
            ),
            413,
            "too_many_records",
        ),
        (lambda p: p.update(data=" " * (MAX_PUSH_BYTES + 1)), 413, "payload_too_large"),
    ],
)
def test_malformed_pushes_get_a_clear_4xx_and_apply_nothing(
    phone: Phone, client: FlaskClient, session: Session, mutate: object, status: int, code: str
) -> None:
    phone.pull()
    good = {"check_ins": {"created": [check_in("ok00000000000001")], "updated": [], "deleted": []}}
    request: dict[str, object] = {
        "url": f"/api/v1/sync?last_pulled_at={phone.last_pulled_at}",
        "data": json.dumps(good),
        "headers": {
            **phone.headers,
            "X-Device-Id": phone.device_id,
            "X-Device-Time": "1790000000000",
        },
    }
    mutate(request)  # type: ignore[operator]
    response = client.post(
        str(request["url"]),
        data=request["data"],
        headers=request["headers"],
        content_type="application/json",
    )
    assert response.status_code == status, response.json
    assert response.json is not None and response.json["code"] == code
    assert session.get(CheckIn, "ok00000000000001") is None


def test_nul_characters_are_stripped_not_fatal(phone: Phone, session: Session) -> None:
    phone.pull()
    body = _push(phone, check_ins={"created": [check_in("nul0000000000001", note="迟\u0000到")]})
    assert body["applied"] == 1
    row = session.get(CheckIn, "nul0000000000001")
    assert row is not None and row.note == "迟到"
