"""Request ids and the JSON access line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.config import ConfigError, Settings
from backend.ops.logs import JsonFormatter
from tests.conftest import TEST_SECRET
from tests.factories import World
from tests.ops.conftest import closed_port


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ucomm.access"]


def test_request_id_is_echoed_and_logged_as_json(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ucomm.access"):
        response = client.get(
            "/health/live?access_token=do-not-log-me", headers={"X-Request-Id": "lb-42.a_b"}
        )
    assert response.headers["X-Request-Id"] == "lb-42.a_b"
    [record] = _access_records(caplog)
    line = JsonFormatter().format(record)
    assert "do-not-log-me" not in line  # the query string is left out
    logged = json.loads(line)
    assert logged["request_id"] == "lb-42.a_b"
    assert logged["method"] == "GET"
    assert logged["path"] == "/health/live"
    assert logged["status"] == 200
    assert logged["duration_ms"] >= 0
    assert logged["user_id"] is None
    assert logged["remote_addr"] == "127.0.0.1"
    assert logged["level"] == "INFO" and logged["logger"] == "ucomm.access"


@pytest.mark.parametrize(
    "given", ["", "has space", "x" * 65, "semi;colon", "a/b", 'x"y', "ünïcode"]
)
def test_an_insane_request_id_is_replaced(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, given: str
) -> None:
    with caplog.at_level(logging.INFO, logger="ucomm.access"):
        response = client.get("/health/live", headers={"X-Request-Id": given})
    echoed = response.headers["X-Request-Id"]
    assert echoed != given
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)
    [record] = _access_records(caplog)
    assert record.request_id == echoed  # type: ignore[attr-defined]


def test_the_access_line_names_the_authenticated_user(
    client: FlaskClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ucomm.access"):
        response = client.get("/api/v1/auth/me", headers=world.headers["teacher_a"])
    assert response.status_code == 200
    [record] = _access_records(caplog)
    assert record.user_id == str(world.users["teacher_a"].id)  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]


def test_every_record_of_a_request_carries_its_id(
    settings: Settings, make_app: Callable[[Settings], Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(settings.with_(redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    with caplog.at_level(logging.INFO):
        response = app.test_client().get("/health/ready", headers={"X-Request-Id": "probe-1"})
    assert response.status_code == 503
    warning = next(r for r in caplog.records if r.name == "backend.ops.health")
    assert warning.request_id == "probe-1"  # type: ignore[attr-defined]
    assert json.loads(JsonFormatter().format(warning))["request_id"] == "probe-1"
    # Outside a request the id is "-".
    with caplog.at_level(logging.INFO):
        logging.getLogger("backend.test").info("no request here")
    assert caplog.records[-1].request_id == "-"  # type: ignore[attr-defined]


def test_log_format_defaults_to_text_and_to_json_in_production() -> None:
    base = {"DATABASE_URL": "sqlite://", "SECRET_KEY": TEST_SECRET}
    assert Settings.from_env(base).log_format == "text"
    assert Settings.from_env({**base, "APP_ENV": "production"}).log_format == "json"
    assert Settings.from_env({**base, "LOG_FORMAT": "json"}).log_format == "json"
    production_text = {**base, "APP_ENV": "production", "LOG_FORMAT": "text"}
    assert Settings.from_env(production_text).log_format == "text"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({**base, "LOG_FORMAT": "xml"})
