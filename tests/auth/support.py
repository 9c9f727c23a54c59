"""Helpers shared by the auth tests: committed setup, logging in over HTTP, reading rows."""

from __future__ import annotations

from typing import Any, TypeVar

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests import factories

T = TypeVar("T")

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def login(
    client: FlaskClient,
    username: str,
    device_id: str,
    *,
    password: str = factories.PASSWORD,
    device_name: str = "Redmi Note 12",
    ip: str = "127.0.0.1",
) -> TestResponse:
    return client.post(
        LOGIN,
        json={
            "username": username,
            "password": password,
            "device_id": device_id,
            "device_name": device_name,
        },
        environ_base={"REMOTE_ADDR": ip},
    )


def logged_in(
    client: FlaskClient, username: str, device_id: str, *, password: str = factories.PASSWORD
) -> dict[str, Any]:
    """Log in and return the token response, failing the test unless it succeeded."""
    response = login(client, username, device_id, password=password)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json or {}
    return body


def refresh(client: FlaskClient, refresh_token: str, device_id: str) -> TestResponse:
    return client.post(REFRESH, json={"refresh_token": refresh_token, "device_id": device_id})


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def me(client: FlaskClient, access_token: str) -> TestResponse:
    return client.get(ME, headers=bearer(access_token))


def error_fields(body: Any) -> set[str]:
    """Field names an error body blames, keyed by location (webargs) or directly (services)."""
    assert isinstance(body, dict), body
    names: set[str] = set()
    for key, value in (body.get("errors") or {}).items():
        if isinstance(value, dict):
            names.update(value)
        else:
            names.add(key)
    return names


# What a phone acts on: refresh (token_expired), log in (the refresh and logout codes),
# or ask an administrator (device_revoked, account_disabled).
AUTH_CODES = {
    "token_missing",
    "token_invalid",
    "token_expired",
    "logged_out",
    "bad_credentials",
    "account_disabled",
    "device_revoked",
    "device_mismatch",
    "refresh_invalid",
    "refresh_reused",
}


def assert_unauthenticated(response: TestResponse, code: str | None = None) -> dict[str, Any]:
    """401 in the service's one error shape, with the challenge header."""
    assert response.status_code == 401, response.json
    body: dict[str, Any] = response.json or {}
    assert body["status"] == 401 and body["code"] in AUTH_CODES, body
    if code is not None:
        assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body
