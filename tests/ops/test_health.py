"""Liveness and readiness: 200 when every dependency answers, 503 naming what failed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.config import Settings
from tests.conftest import TEST_SECRET
from tests.ops.conftest import closed_port


def test_live_answers_without_a_token(client: FlaskClient) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_ready_when_database_and_storage_answer(client: FlaskClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json
    body = response.json
    assert body is not None and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage"}  # no REDIS_URL in the suite
    for check in body["checks"].values():
        assert check["status"] == "ok" and check["latency_ms"] >= 0


@pytest.mark.db_independent
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_not_ready_when_the_database_is_unreachable(
    backend: str, tmp_path: Path, make_app: Callable[[Settings], Flask]
) -> None:
    bad_url = (
        f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"
    )
    settings = Settings.from_env(
        {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": bad_url, "SECRET_KEY": TEST_SECRET}
    )
    response = make_app(settings).test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.json
    assert body is not None and body["status"] == "fail"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["status"] == "fail"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["storage"]["status"] == "ok"
    # Liveness does no I/O: the process still serves.
    assert make_app(settings).test_client().get("/health/live").status_code == 200


def test_not_ready_when_redis_is_configured_but_down(
    settings: Settings, make_app: Callable[[Settings], Flask]
) -> None:
    app = make_app(settings.with_(redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.json
    assert body is not None and body["failing"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


def test_ready_with_redis_up(settings: Settings, make_app: Callable[[Settings], Flask]) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set")
    response = make_app(settings.with_(redis_url=redis_url)).test_client().get("/health/ready")
    assert response.status_code == 200, response.json
    assert response.json is not None and response.json["checks"]["redis"]["status"] == "ok"


def test_not_ready_when_the_media_root_is_not_writable(
    settings: Settings, tmp_path: Path, make_app: Callable[[Settings], Flask]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        app = make_app(settings.with_(media_root=locked / "media"))
        response = app.test_client().get("/health/ready")
        assert response.status_code == 503
        assert response.json is not None and response.json["failing"] == ["storage"]
    finally:
        locked.chmod(0o700)


def test_health_routes_stay_out_of_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec is not None
    assert not [p for p in spec["paths"] if "health" in p or "metrics" in p]
