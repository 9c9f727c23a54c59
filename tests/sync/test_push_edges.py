"""Edge cases of push that must neither block a phone nor let it drift from the server."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from sync.models import QuarantinedRecord
from tests.factories import World
from tests.sync.phone import Phone, check_in


def _push(phone: Phone, **tables: dict[str, list[object]]) -> dict[str, object]:
    changes = {n: {"created": [], "updated": [], "deleted": [], **ops} for n, ops in tables.items()}
    response = phone.push_request(changes)
    assert response.status_code == 200, response.json
    body: dict[str, object] = response.get_json()
    return body


def _entry(session: Session, record_id: str) -> QuarantinedRecord:
    session.expire_all()
    return session.scalars(
        sa.select(QuarantinedRecord).where(QuarantinedRecord.record_id == record_id)
    ).one()


def test_edit_of_a_read_only_record_is_undone_on_the_phone(phone: Phone, world: World) -> None:
    phone.pull()
    school_id = str(world.core_a.id)
    phone.update("schools", school_id, name="我改的名字")
    assert phone.sync().status_code == 200
    assert phone.table("schools")[school_id].values["name"] == "我改的名字"
    phone.pull()  # the stored record comes back although it did not change
    assert phone.table("schools")[school_id].values["name"] == world.core_a.name


def test_delete_of_a_read_only_record_is_undone_on_the_phone(phone: Phone, world: World) -> None:
    phone.pull()
    secondment_id = str(world.secondment_a.id)
    body = _push(phone, secondments={"deleted": [secondment_id, "not-mine-0000001"]})
    assert body["quarantined"] == 1 and body["ignored"] == 1
    assert secondment_id in {r["id"] for r in phone.pull()["changes"]["secondments"]["updated"]}


def test_same_id_twice_in_one_push_keeps_the_last(phone: Phone, session: Session) -> None:
    phone.pull()
    first, last = check_in("twice00000000001", note="一"), check_in("twice00000000001", note="二")
    body = _push(phone, check_ins={"created": [first], "updated": [last]})
    assert body["applied"] == 1
    row = session.get(CheckIn, "twice00000000001")
    assert row is not None and row.note == "二"


def test_cursor_from_the_future_is_refused(phone: Phone) -> None:
    phone.pull()
    phone.last_pulled_at = 10**15
    response = phone.push_request({"check_ins": {"created": [check_in("future0000000001")]}})
    assert response.status_code == 400
    assert response.json is not None and response.json["code"] == "bad_sync_request"


def test_unusable_ids_are_kept_but_not_echoed(phone: Phone, session: Session) -> None:
    phone.pull()
    bad_id = "has spaces and 中文"
    body = _push(phone, check_ins={"created": [check_in(bad_id)]})
    assert body["quarantined"] == 1
    assert _entry(session, bad_id).reason == "invalid_id"
    assert bad_id not in {r["id"] for r in phone.pull()["changes"]["check_ins"]["updated"]}


def test_a_fixed_record_closes_its_quarantine_entry(phone: Phone, session: Session) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("fix0000000000001", kind="sideways")]})
    phone.pull()
    _push(phone, check_ins={"created": [check_in("fix0000000000001")]})
    assert _entry(session, "fix0000000000001").state == "resolved"
    pulled = {r["id"]: r for r in phone.pull()["changes"]["check_ins"]["updated"]}
    assert pulled["fix0000000000001"]["status"] == "accepted"


def test_deleting_a_quarantined_record_withdraws_it(phone: Phone, session: Session) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("drop000000000001", latitude=120)]})
    phone.pull()
    assert "drop000000000001" in phone.table("check_ins")
    _push(phone, check_ins={"deleted": ["drop000000000001"]})
    assert _entry(session, "drop000000000001").state == "dismissed"
    assert phone.pull()["changes"]["check_ins"]["deleted"] == ["drop000000000001"]


def test_a_refused_update_is_flagged_once_however_often_it_comes(
    phone: Phone, session: Session
) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("moved00000000001")]})
    phone.pull()
    moved = check_in("moved00000000001", latitude=30.0)
    for _ in range(3):  # a phone that keeps pushing the same edit after each pull
        _push(phone, check_ins={"updated": [moved]})
        phone.pull()
    row = session.get(CheckIn, "moved00000000001")
    assert row is not None
    session.refresh(row)
    assert [f["code"] for f in row.flags] == ["update_rejected"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("captured_at", 10**30), ("elapsed_ms", -(10**20)), ("mock_location", "maybe")],
)
def test_out_of_range_values_are_quarantined_not_fatal(
    phone: Phone, session: Session, field: str, value: object
) -> None:
    phone.pull()
    body = _push(phone, check_ins={"created": [check_in("huge000000000001", **{field: value})]})
    assert body["quarantined"] == 1
    assert field in _entry(session, "huge000000000001").detail


@pytest.mark.parametrize(
    ("sent", "stored"), [("false", False), ("no", False), ("true", True), (1, True)]
)
def test_mock_location_spellings(
    phone: Phone, session: Session, sent: object, stored: bool
) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("mock000000000001", mock_location=sent)]})
    row = session.get(CheckIn, "mock000000000001")
    assert row is not None and row.mock_location is stored


@pytest.mark.parametrize("header", [("X-Device-Time", "²³"), ("X-Device-Elapsed", "--5")])
def test_odd_digits_in_headers_are_400(
    phone: Phone, client: FlaskClient, header: tuple[str, str]
) -> None:
    phone.pull()
    headers = {**phone.headers, "X-Device-Id": phone.device_id, "X-Device-Time": "1790000000000"}
    headers[header[0]] = header[1]
    response = client.post(
        f"/api/v1/sync?last_pulled_at={phone.last_pulled_at}",
        data=json.dumps({"check_ins": {"created": [check_in("odd0000000000001")]}}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400, response.json


def test_deleting_a_refused_check_in_closes_its_entry(phone: Phone, session: Session) -> None:
    phone.pull()
    _push(phone, check_ins={"created": [check_in("rd00000000000001")]})
    phone.pull()
    _push(phone, check_ins={"updated": [check_in("rd00000000000001", latitude=20.0)]})
    phone.pull()
    _push(phone, check_ins={"deleted": ["rd00000000000001"]})
    assert _entry(session, "rd00000000000001").state == "dismissed"
    row = session.get(CheckIn, "rd00000000000001")
    assert row is not None
    session.refresh(row)
    assert row.deleted_at is not None


def test_a_record_made_up_in_a_read_only_table_can_be_withdrawn(
    phone: Phone, session: Session
) -> None:
    phone.pull()
    _push(phone, schools={"created": [{"id": "madeup0000000001", "name": "假学校"}]})
    assert "madeup0000000001" in {r["id"] for r in phone.pull()["changes"]["schools"]["updated"]}
    _push(phone, schools={"deleted": ["madeup0000000001"]})
    assert _entry(session, "madeup0000000001").state == "dismissed"
    assert phone.pull()["changes"]["schools"]["deleted"] == ["madeup0000000001"]


def test_a_refusal_whose_answer_was_lost_is_answered_again(phone: Phone, world: World) -> None:
    phone.pull()
    school_id = str(world.core_a.id)
    phone.update("schools", school_id, name="改过的")
    edit = phone.pending_changes()
    assert phone.push_request(edit).status_code == 200  # ...and the answer is lost
    phone.pull()  # the phone keeps its own edit (a local change wins the merge)
    again = phone.pending_changes()
    assert phone.push_request(again).status_code == 200
    phone.mark_synced(again)
    phone.pull()
    assert phone.table("schools")[school_id].values["name"] == world.core_a.name


def test_a_cursor_one_past_the_clock_is_refused(phone: Phone, client: FlaskClient) -> None:
    body = phone.pull()
    phone.last_pulled_at = body["timestamp"] + 1
    response = phone.push_request({"check_ins": {"created": [check_in("plus100000000001")]}})
    assert response.status_code == 400


def test_created_and_deleted_in_one_push(phone: Phone, session: Session) -> None:
    phone.pull()
    record = check_in("both000000000001")
    body = _push(phone, check_ins={"created": [record], "deleted": ["both000000000001"]})
    assert body["applied"] == 2
    row = session.get(CheckIn, "both000000000001")
    assert row is not None and row.deleted_at is not None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
def test_non_json_numbers_are_refused_whole(phone: Phone, session: Session, literal: str) -> None:
    phone.pull()
    record = json.dumps(check_in("nan0000000000001")).replace(
        '"accuracy_m": 12.0', f'"accuracy_m": {literal}'
    )
    response = phone.client.post(
        f"/api/v1/sync?last_pulled_at={phone.last_pulled_at}",
        data='{"check_ins": {"created": [' + record + "]}}",
        content_type="application/json",
        headers={**phone.headers, "X-Device-Id": phone.device_id, "X-Device-Time": "1790000000000"},
    )
    assert response.status_code == 400, response.json
    assert session.get(CheckIn, "nan0000000000001") is None
