"""/api/v1/users: bureau admins create logins anchored within their region, and disable them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import User
from tests import factories
from tests.auth.support import (
    assert_unauthenticated,
    error_fields,
    logged_in,
    login,
    me,
)
from tests.factories import committed_world, fresh

USERS = "/api/v1/users"


def _new(role: str, **anchor: Any) -> dict[str, Any]:
    return {
        "username": f"new.{uuid.uuid4().hex[:10]}",
        "password": "a-long-enough-password",
        "role": role,
        "display_name": "李校长",
        **{k: str(v) for k, v in anchor.items()},
    }


def test_bureau_admin_creates_a_login_that_works(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    payload = _new("school_admin", school_id=w.member_a.id)

    response = client.post(USERS, json=payload, headers=w.headers["bureau_a"])

    assert response.status_code == 201, response.json
    body = response.json
    assert body is not None
    assert body["username"] == payload["username"]
    assert body["role"] == "school_admin" and body["school_id"] == str(w.member_a.id)
    assert body["active"] is True
    assert "password" not in body and "password_hash" not in body
    token = logged_in(client, payload["username"], "install-4001", password=payload["password"])[
        "access_token"
    ]
    assert me(client, token).json == body


@pytest.mark.parametrize(
    ("role", "anchor_of"),
    [
        ("school_admin", lambda w: {"school_id": w.core_b.id}),
        ("teacher", lambda w: {"teacher_id": w.teacher_b.id}),
        ("inspector", lambda w: {"region_id": w.county_b.id}),
        # Above the admin's own county is out of scope too.
        ("bureau_admin", lambda w: {"region_id": w.city.id}),
    ],
)
def test_anchor_outside_the_admins_region_is_422(
    app: Flask,
    session: Session,
    client: FlaskClient,
    role: str,
    anchor_of: Any,
) -> None:
    w = committed_world(session, app)
    anchor: dict[str, uuid.UUID] = anchor_of(w)
    payload = _new(role, **anchor)

    response = client.post(USERS, json=payload, headers=w.headers["bureau_a"])

    assert response.status_code == 422, response.json
    assert error_fields(response.json) == set(anchor)
    assert fresh(session, sa.select(User).where(User.username == payload["username"])) == []


def test_anchor_inside_a_sub_region_is_allowed_for_the_city_bureau(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.post(
        USERS, json=_new("school_admin", school_id=w.core_b.id), headers=w.headers["bureau_city"]
    )

    assert response.status_code == 201, response.json


def test_duplicate_username_is_409(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    payload = _new("inspector", region_id=w.county_a.id)
    payload["username"] = w.users["teacher_a2"].username

    response = client.post(USERS, json=payload, headers=w.headers["bureau_a"])

    assert response.status_code == 409, response.json
    assert response.json is not None and response.json["code"] == "conflict"
    assert error_fields(response.json) == {"username"}


def test_second_login_for_one_teacher_is_409(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.post(
        USERS, json=_new("teacher", teacher_id=w.teacher_a.id), headers=w.headers["bureau_a"]
    )

    assert response.status_code == 409, response.json


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "short"}, "password"),
        ({"username": "a b"}, "username"),
        ({"role": "superuser"}, "role"),
        ({"region_id": None}, "region_id"),
    ],
)
def test_invalid_new_user_is_422_naming_the_field(
    app: Flask, session: Session, client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    w = committed_world(session, app)
    payload = {**_new("inspector", region_id=w.county_a.id), **changes}

    response = client.post(USERS, json=payload, headers=w.headers["bureau_a"])

    assert response.status_code == 422, response.json
    assert error_fields(response.json) == {field}
    assert fresh(session, sa.select(User).where(User.username == payload["username"])) == []


@pytest.mark.parametrize("creator", ["teacher_a", "school_admin_a", "inspector_a"])
def test_only_bureau_admins_create_users(
    app: Flask, session: Session, client: FlaskClient, creator: str
) -> None:
    w = committed_world(session, app)

    response = client.post(
        USERS, json=_new("teacher", teacher_id=w.teacher_a.id), headers=w.headers[creator]
    )

    assert response.status_code == 403, response.json
    assert response.json is not None and response.json["code"] == "forbidden"


def test_disabling_a_user_stops_login_and_reenabling_restores_it(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    phone = logged_in(client, teacher.username, "install-4002")
    url = f"{USERS}/{teacher.id}"

    response = client.patch(url, json={"active": False}, headers=w.headers["bureau_a"])

    assert response.status_code == 200, response.json
    assert response.json is not None and response.json["active"] is False
    assert_unauthenticated(login(client, teacher.username, "install-4002"))
    assert_unauthenticated(me(client, phone["access_token"]))
    (stored,) = fresh(session, sa.select(User).where(User.id == teacher.id))
    assert stored.active is False

    response = client.patch(url, json={"active": True}, headers=w.headers["bureau_a"])
    assert response.status_code == 200, response.json
    assert login(client, teacher.username, "install-4002").status_code == 200


def test_users_outside_scope_cannot_be_disabled(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.patch(
        f"{USERS}/{w.users['teacher_b'].id}", json={"active": False}, headers=w.headers["bureau_a"]
    )

    assert response.status_code == 404, response.json
    assert login(client, w.users["teacher_b"].username, "install-4003").status_code == 200


def test_admin_cannot_disable_themselves(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)

    response = client.patch(
        f"{USERS}/{w.users['bureau_a'].id}", json={"active": False}, headers=w.headers["bureau_a"]
    )

    assert response.status_code == 422, response.json
    assert login(client, w.users["bureau_a"].username, "install-4004").status_code == 200


def test_user_list_is_scoped(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)

    response = client.get(USERS, headers=w.headers["bureau_a"], query_string={"limit": 200})

    assert response.status_code == 200, response.json
    assert response.json is not None
    listed = {u["id"] for u in response.json["items"]}
    assert str(w.users["teacher_a"].id) in listed
    assert str(w.users["school_admin_a"].id) in listed
    assert not {str(w.users[k].id) for k in ("teacher_b", "bureau_b", "bureau_city")} & listed
    assert factories.PASSWORD not in response.get_data(as_text=True)
