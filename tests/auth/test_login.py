"""POST /api/v1/auth/login: tokens for a device, uniform failures, input validation."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import Device, User
from backend.config import Settings
from backend.db import utcnow
from tests import factories
from tests.auth.support import (
    LOGIN,
    assert_unauthenticated,
    error_fields,
    logged_in,
    login,
    me,
)
from tests.factories import committed_world, fresh


def test_login_returns_short_access_token_refresh_token_user_and_device(
    app: Flask, session: Session, client: FlaskClient, settings: Settings
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]

    before = utcnow()
    body = logged_in(client, teacher.username, "install-0001")

    claims = jwt.decode(
        body["access_token"],
        settings.secret_key,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    assert claims["sub"] == str(teacher.id)
    assert 0 < claims["exp"] - claims["iat"] <= 900
    assert body["expires_in"] == claims["exp"] - claims["iat"]
    assert body["token_type"] == "Bearer"
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 32
    assert body["refresh_token"] != body["access_token"]
    assert body["user"]["id"] == str(teacher.id)
    assert body["user"]["username"] == teacher.username
    assert body["user"]["role"] == "teacher"
    assert "password" not in body["user"] and "password_hash" not in body["user"]

    device = body["device"]
    assert device["device_id"] == "install-0001"
    assert device["device_name"] == "Redmi Note 12"
    assert device["user_id"] == str(teacher.id)
    assert device["revoked_at"] is None
    assert claims["did"] == device["id"]
    (row,) = fresh(session, sa.select(Device).where(Device.device_id == "install-0001"))
    assert row.user_id == teacher.id and row.last_seen_at >= before - timedelta(seconds=1)


def test_access_token_from_login_works_on_me(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    admin = w.users["bureau_a"]
    body = logged_in(client, admin.username, "install-0002")

    response = me(client, body["access_token"])

    assert response.status_code == 200, response.json
    assert response.json is not None
    assert response.json["id"] == str(admin.id)
    assert response.json["region_id"] == str(w.county_a.id)


def test_logging_in_again_from_one_device_reuses_its_row(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]

    first = logged_in(client, teacher.username, "install-0003")
    second = logged_in(client, teacher.username, "install-0003")

    assert first["device"]["id"] == second["device"]["id"]
    assert first["refresh_token"] != second["refresh_token"]


def test_wrong_password_and_unknown_user_fail_alike(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    wrong = login(client, w.users["teacher_a"].username, "install-0004", password="not-it-at-all")
    unknown = login(client, "nobody-by-this-name", "install-0004")

    wrong_body = assert_unauthenticated(wrong)
    unknown_body = assert_unauthenticated(unknown)
    assert wrong_body == unknown_body
    assert "access_token" not in wrong_body
    # A failed login leaves no device behind.
    assert fresh(session, sa.select(Device).where(Device.device_id == "install-0004")) == []


def test_disabled_user_cannot_log_in(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    assert login(client, teacher.username, "install-0005").status_code == 200
    user = session.get(User, teacher.id)
    assert user is not None
    user.active = False
    session.commit()

    body = assert_unauthenticated(login(client, teacher.username, "install-0005"))

    assert "disabled" in body["message"].lower()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": factories.PASSWORD, "device_id": "install-0006"}, "username"),
        ({"username": "someone", "device_id": "install-0006"}, "password"),
        ({"username": "someone", "password": factories.PASSWORD}, "device_id"),
        ({"username": "someone", "password": factories.PASSWORD, "device_id": "abc"}, "device_id"),
        ({"username": "", "password": factories.PASSWORD, "device_id": "install-0006"}, "username"),
        (
            {
                "username": "someone",
                "password": factories.PASSWORD,
                "device_id": "install-0006",
                "remember_me": True,
            },
            "remember_me",
        ),
    ],
)
def test_invalid_login_input_is_422_naming_the_field(
    client: FlaskClient, payload: dict[str, object], field: str
) -> None:
    response = client.post(LOGIN, json=payload)

    assert response.status_code == 422, response.json
    body = response.json
    assert body is not None
    assert body["code"] == "validation_error"
    assert error_fields(body) == {field}
    assert field in body["message"]
