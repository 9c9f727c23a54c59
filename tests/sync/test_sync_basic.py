from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from tests.factories import World
from tests.sync.phone import Phone, check_in


def test_first_pull_gives_own_secondment_and_schools(phone: Phone, world: World) -> None:
    body = phone.pull()
    assert body["timestamp"] > 0
    secondments = body["changes"]["secondments"]["updated"]
    assert [s["id"] for s in secondments] == [str(world.secondment_a.id)]
    schools = {s["id"] for s in body["changes"]["schools"]["updated"]}
    assert schools == {str(world.core_a.id), str(world.member_a.id)}
    assert body["changes"]["check_ins"] == {"created": [], "updated": [], "deleted": []}


def test_push_then_pull_roundtrip(phone: Phone, session: Session, world: World) -> None:
    phone.pull()
    phone.create("check_ins", check_in("ci0000000000001"))
    response = phone.sync()
    assert response.status_code == 200, response.json
    assert response.json is not None and response.json["applied"] == 1
    row = session.get(CheckIn, "ci0000000000001")
    assert row is not None and row.teacher_id == world.teacher_a.id
    body = phone.pull()
    pulled = body["changes"]["check_ins"]["updated"]
    assert [r["id"] for r in pulled] == ["ci0000000000001"]
    assert pulled[0]["status"] == "accepted" and pulled[0]["received_at"] > 0


def test_replayed_push_changes_nothing(phone: Phone, client: FlaskClient, session: Session) -> None:
    phone.pull()
    changes = {
        "check_ins": {"created": [check_in("ci0000000000002")], "updated": [], "deleted": []}
    }
    first = phone.push_request(changes)
    second = phone.push_request(changes)
    assert first.status_code == second.status_code == 200, (first.json, second.json)
    assert second.json is not None and second.json["unchanged"] == 1 and second.json["applied"] == 0
    assert session.query(CheckIn).filter(CheckIn.id == "ci0000000000002").count() == 1
