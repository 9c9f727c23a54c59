"""Devices: listing in scope, and revoking a lost phone (tokens die at once, no new login)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import Device, RefreshToken
from tests.auth.support import (
    assert_unauthenticated,
    bearer,
    logged_in,
    login,
    me,
    refresh,
)
from tests.factories import committed_world, fresh

LOST = "install-lost-phone"
SPARE = "install-spare-phone"


def _revoke(client: FlaskClient, device_pk: str, headers: dict[str, str]) -> int:
    return client.post(f"/api/v1/devices/{device_pk}/revoke", headers=headers).status_code


def test_bureau_admin_revokes_a_lost_phone(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    lost = logged_in(client, teacher.username, LOST)
    spare = logged_in(client, teacher.username, SPARE)
    assert me(client, lost["access_token"]).status_code == 200

    response = client.post(
        f"/api/v1/devices/{lost['device']['id']}/revoke", headers=w.headers["bureau_a"]
    )

    assert response.status_code == 200, response.json
    assert response.json is not None
    assert response.json["id"] == lost["device"]["id"]
    assert response.json["revoked_at"] is not None
    # The unexpired access token is refused at once, not when it expires.
    body = assert_unauthenticated(me(client, lost["access_token"]))
    assert "revoked" in body["message"]
    assert_unauthenticated(refresh(client, lost["refresh_token"], LOST))
    assert_unauthenticated(login(client, teacher.username, LOST))
    (device,) = fresh(session, sa.select(Device).where(Device.device_id == LOST))
    assert device.revoked_by_id == w.users["bureau_a"].id
    tokens = fresh(session, sa.select(RefreshToken).where(RefreshToken.device_pk == device.id))
    assert tokens and all(t.revoked_reason == "device_revoked" for t in tokens)
    # The teacher's other phone keeps working.
    assert me(client, spare["access_token"]).status_code == 200
    assert refresh(client, spare["refresh_token"], SPARE).status_code == 200


def test_city_bureau_admin_covers_the_county(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    lost = logged_in(client, w.users["teacher_a"].username, LOST)

    assert _revoke(client, lost["device"]["id"], w.headers["bureau_city"]) == 200
    assert_unauthenticated(me(client, lost["access_token"]))


def test_bureau_admin_of_another_county_cannot_revoke(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    lost = logged_in(client, w.users["teacher_a"].username, LOST)

    assert _revoke(client, lost["device"]["id"], w.headers["bureau_b"]) == 404

    assert me(client, lost["access_token"]).status_code == 200
    assert refresh(client, lost["refresh_token"], LOST).status_code == 200


def test_teacher_revokes_own_other_device_but_not_a_colleagues(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    mine = logged_in(client, w.users["teacher_a"].username, LOST)
    in_hand = logged_in(client, w.users["teacher_a"].username, SPARE)
    colleague = logged_in(client, w.users["teacher_a2"].username, "install-colleague")

    assert _revoke(client, colleague["device"]["id"], bearer(in_hand["access_token"])) == 404
    assert me(client, colleague["access_token"]).status_code == 200

    assert _revoke(client, mine["device"]["id"], bearer(in_hand["access_token"])) == 200
    assert_unauthenticated(me(client, mine["access_token"]))
    assert me(client, in_hand["access_token"]).status_code == 200


def test_revoking_an_unknown_device_is_404(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.post(
        "/api/v1/devices/00000000-0000-4000-8000-000000000000/revoke",
        headers=w.headers["bureau_a"],
    )

    assert response.status_code == 404
    assert response.json is not None and response.json["code"] == "not_found"


def _listed(client: FlaskClient, headers: dict[str, str]) -> set[str]:
    response = client.get("/api/v1/devices", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json is not None
    return {d["id"] for d in response.json["items"]}


def test_device_list_shows_only_devices_in_scope(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    a = logged_in(client, w.users["teacher_a"].username, LOST)["device"]["id"]
    a2 = logged_in(client, w.users["teacher_a2"].username, LOST)["device"]["id"]
    b = logged_in(client, w.users["teacher_b"].username, LOST)["device"]["id"]
    own_a = logged_in(client, w.users["bureau_a"].username, "install-desk")["device"]["id"]

    bureau_a = _listed(client, w.headers["bureau_a"])
    assert {a, a2, own_a} <= bureau_a and b not in bureau_a
    bureau_b = _listed(client, w.headers["bureau_b"])
    assert b in bureau_b and not {a, a2, own_a} & bureau_b
    teacher_a = _listed(client, w.headers["teacher_a"])
    assert a in teacher_a and not {a2, b, own_a} & teacher_a
    # Everything bureau A sees belongs to users of county A (or to the admin).
    ids = [uuid.UUID(d) for d in bureau_a]
    owners = fresh(session, sa.select(Device.user_id).where(Device.id.in_(ids)))
    county_a_users = {u.id for name, u in w.users.items() if name.endswith(("_a", "_a2"))}
    assert set(owners) <= county_a_users


def test_a_found_phone_is_restored_by_an_admin(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    lost = logged_in(client, teacher.username, LOST)
    assert _revoke(client, lost["device"]["id"], w.headers["bureau_a"]) == 200
    assert_unauthenticated(login(client, teacher.username, LOST), "device_revoked")
    restore = f"/api/v1/devices/{lost['device']['id']}/restore"

    assert client.post(restore, headers=w.headers["teacher_a"]).status_code == 403
    assert client.post(restore, headers=w.headers["bureau_b"]).status_code == 404
    assert client.post(restore, headers=w.headers["school_admin_a"]).status_code == 200
    assert client.post(restore, headers=w.headers["school_admin_a"]).status_code == 409

    # It may log in again; what it held before the revocation stays void.
    assert_unauthenticated(me(client, lost["access_token"]), "logged_out")
    again = logged_in(client, teacher.username, LOST)
    assert me(client, again["access_token"]).status_code == 200
