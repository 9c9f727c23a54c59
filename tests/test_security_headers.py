"""Security headers: every response carries them; the API's CSP allows nothing, the docs
page exactly its own assets; personal data is never cached; HSTS only in production."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.app import create_app
from backend.config import Settings
from backend.db import database_of
from media.models import Photo
from tests.factories import World
from tests.media.test_processing import photo_bytes, store_photo

DOCS = "/api/v1/docs"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _directives(response: TestResponse) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def _assert_always(response: TestResponse) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert "Strict-Transport-Security" not in response.headers  # development


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/schools", 401),
        ("POST", "/api/v1/auth/login", 422),
        ("GET", "/api/v1/no-such-thing", 404),
        ("GET", "/not-the-api", 404),
    ],
)
def test_api_responses_are_locked_down_and_not_cached(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method, json={} if method == "POST" else None)

    assert response.status_code == status
    _assert_always(response)
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_a_personal_response_is_not_cached(client: FlaskClient, world: World) -> None:
    response = client.get("/api/v1/auth/me", headers=world.headers["teacher_a"])

    assert response.status_code == 200
    _assert_always(response)
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_the_docs_page_may_load_exactly_its_own_assets(client: FlaskClient) -> None:
    page = client.get(DOCS)
    assert page.status_code == 200 and page.mimetype == "text/html"
    _assert_always(page)
    csp = _directives(page)

    inline = re.findall(rb"<script>(.*?)</script>", page.data, re.DOTALL)
    assert len(inline) == 1  # Swagger UI's bootstrap
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]  # the OpenAPI document
    assert "'unsafe-eval'" not in page.headers["Content-Security-Policy"]
    assert "Cache-Control" not in page.headers or "no-store" not in page.headers["Cache-Control"]

    # Every script and stylesheet the page names is served by this app ('self').
    assets = re.findall(rb'(?:src|href)="([^"]+)"', page.data)
    assert len(assets) >= 3
    for asset in assets:
        url = asset.decode()
        assert url.startswith(DOCS + "/assets/"), url
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" not in served.headers.get("Cache-Control", "")
        served.close()


def test_the_openapi_document_is_public_and_cacheable(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    _assert_always(response)
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_a_signed_photo_url_keeps_its_own_caching(
    app: Flask, session: Session, world: World, client: FlaskClient
) -> None:
    store_photo(app, world.users["teacher_a"].id, "pic-headers", photo_bytes(21))
    photo = session.scalars(sa.select(Photo).where(Photo.photo_id == "pic-headers")).one()
    link = client.get(
        f"/api/v1/photos/{photo.id}/url?size=thumb", headers=world.headers["teacher_a"]
    )
    assert link.status_code == 200, link.json
    assert link.headers["Cache-Control"] == "no-store"  # the link itself is personal
    assert link.json is not None

    served = client.get(link.json["url"])

    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    _assert_always(served)
    assert served.headers["Cache-Control"].startswith("private, max-age=")
    assert served.headers["Content-Security-Policy"] == "default-src 'none'"


@pytest.fixture
def production_app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.with_(env="production"))
    yield app
    database_of(app).engine.dispose()


def test_hsts_only_in_production(production_app: Flask, client: FlaskClient) -> None:
    production = production_app.test_client().get("/api/v1/schools")
    development = client.get("/api/v1/schools")

    assert production.status_code == development.status_code == 401
    hsts = production.headers["Strict-Transport-Security"]
    assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000
    assert "Strict-Transport-Security" not in development.headers
