"""Helpers for the org and exchange rule tests: committed setup, error bodies, ETags, reads.

Setup is committed to its savepoint before the first request: a request runs in a session
of its own, and reading what it did goes through :func:`fresh` (objects the test loaded
earlier would show the state before the request).
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests import factories

T = TypeVar("T")

API = "/api/v1"


def admin_of(session: Session, app: Flask, school_id: Any) -> dict[str, str]:
    """Bearer headers of a new school admin of ``school_id`` (committed)."""
    user = factories.user(session, app, "school_admin", school_id=school_id)
    headers = factories.bearer(session, app, user)
    session.commit()
    return headers


def iso(day: date) -> str:
    return day.isoformat()


def body_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json(silent=True)
    assert isinstance(body, dict), (response.status_code, response.data[:500])
    return body


def ok(response: TestResponse, status: int = 200) -> dict[str, Any]:
    body = body_of(response)
    assert response.status_code == status, body
    return body


def expect_error(
    response: TestResponse,
    status: int,
    code: str,
    *,
    rule: str | None = None,
    field: str | None = None,
    location: str | None = None,
) -> dict[str, Any]:
    """Assert the one error shape: status, code, message, the rule (or none) and the field.

    ``location`` ("json", "query") is where webargs files a field; a service names the
    field without a location, and that is the only place searched when ``location`` is None.
    """
    body = body_of(response)
    assert response.status_code == status, body
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body.get("rule") == rule, body
    if field is not None:
        errors = body.get("errors")
        assert isinstance(errors, dict), body
        if location is not None:
            assert field in errors.get(location, {}), body
        else:
            assert field in errors or field in errors.get("json", {}), body
    return body


def etag_of(client: FlaskClient, url: str, headers: dict[str, str]) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    etag = response.headers.get("ETag")
    assert etag, "GET must return an ETag"
    return etag


def patch_with_etag(
    client: FlaskClient, url: str, headers: dict[str, str], changes: dict[str, Any]
) -> TestResponse:
    """PATCH ``changes`` with the ETag just read as If-Match (the normal client flow)."""
    if_match = {**headers, "If-Match": etag_of(client, url, headers)}
    return client.patch(url, json=changes, headers=if_match)
