"""Access tokens: only an unexpired HS256 token of this service, for a live device, passes."""

from __future__ import annotations

import base64
import json
import uuid
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import utcnow
from tests.auth.support import (
    ME,
    assert_unauthenticated,
    logged_in,
)
from tests.factories import committed_world

Claims = dict[str, Any]


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _claims(settings: Settings, user_id: str, device_pk: str, **changes: Any) -> Claims:
    now = utcnow()
    claims: Claims = {
        "sub": user_id,
        "did": device_pk,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "jti": uuid.uuid4().hex,
        "ims": int(now.timestamp() * 1000),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(settings: Settings, claims: Claims) -> str:
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def _unsigned(_settings: Settings, claims: Claims) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _other_key(_settings: Settings, claims: Claims) -> str:
    return jwt.encode(claims, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256")


def _payload_swapped(settings: Settings, claims: Claims) -> str:
    """Keep a genuine signature but change the payload (here: who the token is for)."""
    header, _, signature = _sign(settings, claims).split(".")
    forged = dict(claims, sub=str(uuid.uuid4()))
    return f"{header}.{_b64(forged)}.{signature}"


def _hs512(settings: Settings, claims: Claims) -> str:
    """The right key under an algorithm the service does not accept."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # short for HS512
        return jwt.encode(claims, settings.secret_key, algorithm="HS512")


@pytest.fixture
def holder(app: Flask, session: Session, client: FlaskClient) -> tuple[str, str]:
    """A teacher logged in on a phone: (user id, device pk)."""
    w = committed_world(session, app)
    body = logged_in(client, w.users["teacher_a"].username, "install-2001")
    return body["user"]["id"], body["device"]["id"]


def test_a_correctly_forged_token_is_accepted(
    client: FlaskClient, settings: Settings, holder: tuple[str, str]
) -> None:
    """The control for the cases below: each differs from this token in one way only."""
    token = _sign(settings, _claims(settings, *holder))

    response = client.get(ME, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.json
    assert response.json is not None and response.json["id"] == holder[0]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
    ],
)
def test_missing_or_malformed_token_is_401(client: FlaskClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}

    assert_unauthenticated(client.get(ME, headers=headers))


Encoder = Callable[[Settings, Claims], str]


@pytest.mark.parametrize(
    ("encode", "changes"),
    [
        pytest.param(_unsigned, {}, id="alg-none"),
        pytest.param(_other_key, {}, id="signed-with-another-key"),
        pytest.param(_payload_swapped, {}, id="tampered-payload"),
        pytest.param(_hs512, {}, id="unexpected-algorithm"),
        pytest.param(_sign, {"aud": "someone-else"}, id="wrong-audience"),
        pytest.param(_sign, {"aud": None}, id="no-audience"),
        pytest.param(_sign, {"iss": "evil"}, id="wrong-issuer"),
        pytest.param(_sign, {"iss": None}, id="no-issuer"),
        pytest.param(_sign, {"did": None}, id="no-device"),
        pytest.param(_sign, {"sub": "not-a-uuid"}, id="bad-subject"),
        pytest.param(_sign, {"did": str(uuid.uuid4())}, id="unknown-device"),
        pytest.param(_sign, {"sub": str(uuid.uuid4())}, id="device-of-another-user"),
        pytest.param(_sign, {"exp": None}, id="no-expiry"),
        pytest.param(
            _sign,
            {"nbf": int((utcnow() + timedelta(hours=1)).timestamp())},
            id="not-yet-valid",
        ),
    ],
)
def test_forged_or_foreign_token_is_401(
    client: FlaskClient,
    settings: Settings,
    holder: tuple[str, str],
    encode: Encoder,
    changes: Claims,
) -> None:
    token = encode(settings, _claims(settings, *holder, **changes))

    assert_unauthenticated(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_expired_token_is_401_asking_for_a_refresh(
    client: FlaskClient, settings: Settings, holder: tuple[str, str]
) -> None:
    now = utcnow()
    token = _sign(
        settings,
        _claims(
            settings,
            *holder,
            iat=int((now - timedelta(minutes=20)).timestamp()),
            nbf=int((now - timedelta(minutes=20)).timestamp()),
            exp=int((now - timedelta(seconds=5)).timestamp()),
        ),
    )

    body = assert_unauthenticated(client.get(ME, headers={"Authorization": f"Bearer {token}"}))

    assert "expired" in body["message"].lower()


def test_token_of_a_disabled_user_is_401(
    app: Flask, session: Session, client: FlaskClient, settings: Settings
) -> None:
    w = committed_world(session, app)
    headers = w.headers["teacher_a"]
    assert client.get(ME, headers=headers).status_code == 200
    response = client.patch(
        f"/api/v1/users/{w.users['teacher_a'].id}",
        json={"active": False},
        headers=w.headers["bureau_a"],
    )
    assert response.status_code == 200, response.json

    assert_unauthenticated(client.get(ME, headers=headers))
