"""Every non-public route and method refuses a missing, forged, foreign or wrong-kind token
with 401 in the one error shape — never 200, 403, 404, 422 or 500. The walk is the same as
the policy test's, so a new route is covered the day it is added.

Tokens are built with PyJWT here, mirroring ``backend/auth/tokens.py``'s claims, each
differing from a valid token of a real, logged-in device in one way only.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter, UUIDConverter

from backend.auth.policy import policy_of
from backend.config import Settings
from backend.db import utcnow
from tests.auth.support import AUTH_CODES, logged_in
from tests.auth.test_route_policies import IGNORED_METHODS
from tests.factories import committed_world

Claims = dict[str, Any]
# The uploads blueprint negotiates the tus version (412) before anything else, as the tus
# protocol asks; a real tus client always sends this, and it is harmless elsewhere.
_TUS = {"Tus-Resumable": "1.0.0"}
Route = tuple[str, str]  # (method, url)

# Path parameters named for what they hold, where a plausible string is a specific shape.
_NAMED_VALUES = {"month": "2026-03", "day": "2026-03-02", "fmt": "csv", "code": "late"}


def _value(name: str, converter: object) -> object:
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    if isinstance(converter, IntegerConverter):
        return 2026
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return _NAMED_VALUES.get(name, "x")


def _url(rule: Rule) -> str:
    values = {name: _value(name, conv) for name, conv in rule._converters.items()}
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def _protected_routes(app: Flask) -> list[Route]:
    """Each (method, url) whose handler needs a token; the walk of test_route_policies."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            handler = getattr(view_class, method.lower()) if view_class else view
            if policy_of(handler) != "public":
                routes.append((method, _url(rule)))
    return routes


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _claims(settings: Settings, user_id: str, device_pk: str, **changes: Any) -> Claims:
    """The claims ``issue_access_token`` writes, with ``changes`` applied."""
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
    return claims


def _sign(settings: Settings, claims: Claims) -> str:
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def _tampered_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{flipped}"


@pytest.fixture
def holder(app: Flask, session: Session, client: FlaskClient) -> dict[str, Any]:
    """A teacher logged in on a phone: the login response (user, device, tokens)."""
    w = committed_world(session, app)
    return logged_in(client, w.users["teacher_a"].username, "install-9009")


def _bad_tokens(settings: Settings, holder: dict[str, Any]) -> Iterator[tuple[str, str]]:
    ids = (holder["user"]["id"], holder["device"]["id"])
    now = utcnow()
    valid = _sign(settings, _claims(settings, *ids))
    yield (
        "expired",
        _sign(
            settings,
            _claims(
                settings,
                *ids,
                iat=int((now - timedelta(minutes=20)).timestamp()),
                nbf=int((now - timedelta(minutes=20)).timestamp()),
                exp=int((now - timedelta(seconds=5)).timestamp()),
            ),
        ),
    )
    yield "tampered-signature", _tampered_signature(valid)
    yield "alg-none", f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(settings, *ids))}."
    yield "wrong-audience", _sign(settings, _claims(settings, *ids, aud="someone-else"))
    yield (
        "another-secret",
        jwt.encode(
            _claims(settings, *ids),
            "another-secret-that-is-long-enough-for-hs256",
            algorithm="HS256",
        ),
    )
    yield "refresh-token", holder["refresh_token"]
    yield "garbage", "not-a-token"


def _refusals(
    client: FlaskClient, routes: list[Route], headers: dict[str, str], *, with_body: bool = False
) -> Iterator[str]:
    """A description of each route that did not answer 401 in the error shape.

    With ``with_body``, writes carry an empty JSON object: the token is checked before the
    arguments, so an anonymous caller learns nothing from validation errors either.
    """
    for method, url in routes:
        json_body: dict[str, Any] | None = (
            {} if with_body and method in {"POST", "PUT", "PATCH"} else None
        )
        response = client.open(url, method=method, headers={**_TUS, **headers}, json=json_body)
        body = response.get_json(silent=True)
        if (
            response.status_code != 401
            or not isinstance(body, dict)
            or body.get("status") != 401
            or body.get("code") not in AUTH_CODES
            or not body.get("message")
            or not response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        ):
            yield f"{method} {url} -> {response.status_code} {body}"


def test_the_walk_covers_the_api(app: Flask) -> None:
    routes = _protected_routes(app)
    assert len(routes) > 100
    assert ("GET", "/api/v1/auth/me") in routes


def test_every_route_refuses_a_request_without_a_token(app: Flask, client: FlaskClient) -> None:
    routes = _protected_routes(app)
    assert list(_refusals(client, routes, {})) == []
    assert list(_refusals(client, routes, {}, with_body=True)) == []
    assert list(_refusals(client, routes, {"Authorization": "Basic dXNlcjpwYXNz"})) == []


def test_every_route_refuses_a_bad_token(
    app: Flask, client: FlaskClient, settings: Settings, holder: dict[str, Any]
) -> None:
    valid = _sign(settings, _claims(settings, holder["user"]["id"], holder["device"]["id"]))
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {valid}"}).status_code
        == 200
    )
    routes = _protected_routes(app)
    failures = {
        name: list(_refusals(client, routes, {"Authorization": f"Bearer {token}"}))
        for name, token in _bad_tokens(settings, holder)
    }
    assert failures == {name: [] for name in failures}, failures
