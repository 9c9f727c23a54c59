"""Admins see quarantined records of their users and can set them aside."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import World
from tests.sync.phone import Phone, check_in


def _quarantine_one(phone: Phone) -> None:
    phone.pull()
    response = phone.push_request(
        {
            "check_ins": {
                "created": [check_in("q000000000000001", kind="?")],
                "updated": [],
                "deleted": [],
            }
        }
    )
    assert response.status_code == 200 and response.json is not None
    assert response.json["quarantined"] == 1


def test_admins_in_scope_see_the_quarantine(
    phone: Phone, client: FlaskClient, world: World
) -> None:
    _quarantine_one(phone)
    listing = client.get("/api/v1/sync/quarantine", headers=world.headers["bureau_a"])
    assert listing.status_code == 200, listing.json
    assert listing.json is not None
    [entry] = listing.json["items"]
    assert entry["record_id"] == "q000000000000001" and entry["reason"] == "invalid_field"
    assert entry["payload"]["kind"] == "?"  # the raw record, whole
    school_admin = client.get("/api/v1/sync/quarantine", headers=world.headers["school_admin_a"])
    assert school_admin.json is not None and len(school_admin.json["items"]) == 1
    other = client.get("/api/v1/sync/quarantine", headers=world.headers["bureau_b"])
    assert other.json is not None and other.json["items"] == []
    assert (
        client.get("/api/v1/sync/quarantine", headers=world.headers["teacher_a"]).status_code == 403
    )


def test_dismissed_record_leaves_the_phone(phone: Phone, client: FlaskClient, world: World) -> None:
    _quarantine_one(phone)
    phone.pull()
    assert "q000000000000001" in phone.table("check_ins")
    entry = client.get("/api/v1/sync/quarantine", headers=world.headers["bureau_a"]).json
    assert entry is not None
    entry_id = entry["items"][0]["id"]
    assert (
        client.post(
            f"/api/v1/sync/quarantine/{entry_id}/dismiss",
            json={},
            headers=world.headers["bureau_b"],
        ).status_code
        == 404
    )
    dismissed = client.post(
        f"/api/v1/sync/quarantine/{entry_id}/dismiss",
        json={"note": "duplicate punch"},
        headers=world.headers["bureau_a"],
    )
    assert dismissed.status_code == 200 and dismissed.json is not None
    assert dismissed.json["state"] == "dismissed"
    body = phone.pull()
    assert body["changes"]["check_ins"]["deleted"] == ["q000000000000001"]
    again = client.post(
        f"/api/v1/sync/quarantine/{entry_id}/dismiss", json={}, headers=world.headers["bureau_a"]
    )
    assert again.status_code == 409
    kept = client.get(
        "/api/v1/sync/quarantine?state=dismissed", headers=world.headers["bureau_a"]
    ).json
    assert kept is not None and kept["items"][0]["payload"]["kind"] == "?"
