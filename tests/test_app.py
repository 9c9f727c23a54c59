"""The service as a whole: documents, the one error shape, request limits, headers, config."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.config import ConfigError, Settings


def _assert_error_shape(body: object, status: int) -> None:
    assert isinstance(body, dict)
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]


def test_openapi_document_lists_the_api(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec is not None and spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/auth/login",
        "/api/v1/schools",
        "/api/v1/communities/{community_id}/membership-changes",
        "/api/v1/secondments/{secondment_id}/extensions",
        "/api/v1/devices/{device_pk}/revoke",
    ):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/auth/login"]["post"]["security"] == []


def test_swagger_ui_is_served_without_a_cdn(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200 and len(asset.data) > 100_000


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/v1/nowhere", {}, 404),
        ("DELETE", "/api/v1/auth/login", {}, 405),
        ("GET", "/api/v1/schools", {}, 401),
        ("POST", "/api/v1/auth/login", {"data": "{bad", "content_type": "application/json"}, 400),
        ("POST", "/api/v1/auth/login", {"data": "a=b", "content_type": "text/plain"}, 415),
        ("POST", "/api/v1/auth/login", {"json": [1, 2]}, 422),
        ("POST", "/api/v1/auth/login", {"json": {"username": "x"}}, 422),
        ("GET", "/api/v1/schools/not-a-uuid", {}, 404),
    ],
)
def test_bad_requests_get_the_json_error_shape(
    client: FlaskClient, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    response = client.open(path, method=method, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.mimetype == "application/json"
    _assert_error_shape(response.json, status)


def test_validation_error_names_the_fields(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "x", "password": 5})
    assert response.status_code == 422
    body = response.json
    assert body is not None
    assert set(body["errors"]["json"]) == {"password", "device_id"}
    assert "device_id" in body["message"] and "password" in body["message"]


def test_request_size_is_capped(client: FlaskClient, app: Flask) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/api/v1/auth/login", data=b"x" * (limit + 1), content_type="application/json"
    )
    assert response.status_code == 413
    _assert_error_shape(response.json, 413)
    assert str(limit) in response.json["message"]  # type: ignore[index]


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/api/v1/schools")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_embedded_default_needs_no_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert settings.is_sqlite and str(tmp_path) in settings.database_url
    assert settings.media_root == tmp_path / "media"
    assert settings.redis_url is None
    # the generated development secret is kept, so tokens survive a restart
    assert Settings.from_env({"INSTANCE_PATH": str(tmp_path)}).secret_key == settings.secret_key


def test_database_and_redis_urls_switch_to_the_real_parts(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": "postgresql://u@db/ucomm",
            "REDIS_URL": "redis://cache:6379/0",
        }
    )
    # A database host that does not answer fails a connection in 5 s, not never.
    assert settings.database_url == "postgresql+psycopg://u@db/ucomm?connect_timeout=5"
    assert settings.redis_url == "redis://cache:6379/0"


@pytest.mark.parametrize(
    "env",
    [
        {"APP_ENV": "production"},
        {"APP_ENV": "production", "SECRET_KEY": "short"},
        {"ACCESS_TOKEN_TTL_SECONDS": "3600"},
        {"ACCESS_TOKEN_TTL_SECONDS": "ten"},
        {"REFRESH_TOKEN_TTL_DAYS": "0"},
    ],
)
def test_unsafe_or_invalid_settings_refuse_to_start(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})


def test_documented_error_schema_is_the_one_we_send(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec is not None
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert error["status"]["type"] == "integer" and error["code"]["type"] == "string"
    assert set(error) == {"status", "code", "message", "rule", "errors"}


def test_a_value_the_database_refuses_is_422_not_500(
    app: Flask, session: object, client: FlaskClient, is_postgres: bool
) -> None:
    from sqlalchemy.orm import Session

    from tests import factories

    assert isinstance(session, Session)
    w = factories.world(session, app)
    response = client.post(
        "/api/v1/teachers",
        json={"staff_no": "NUL-1", "name": "王\u0000老师", "home_school_id": str(w.core_a.id)},
        headers=w.headers["bureau_a"],
    )
    # PostgreSQL cannot store NUL in text; SQLite can. Either way: never a 500.
    assert response.status_code == (422 if is_postgres else 201), response.json
    if is_postgres:
        assert response.json is not None and response.json["code"] == "unstorable_value"


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "1e999"])
def test_json_that_is_not_json_is_400(client: FlaskClient, literal: str) -> None:
    body = '{"username": "u", "password": "p", "device_id": "dev-1", "x": ' + literal + "}"
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert response.status_code == 400


def test_chunked_body_of_the_wrong_type_is_415(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/login",
        input_stream=io.BytesIO(b"username=x"),
        headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
    )
    assert response.status_code == 415
