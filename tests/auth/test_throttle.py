"""Login rate limits: per account (failures) and per IP (attempts), shared through Redis,
and still enforced — from memory — when Redis is down.

Each test swaps a real :class:`LoginThrottle` with tight limits into the session's app and
restores the generous one afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.auth.api import THROTTLE_KEY
from backend.auth.throttle import LoginThrottle
from backend.config import Settings
from backend.db import database_of
from tests.auth.support import (
    assert_unauthenticated,
    login,
)
from tests.factories import committed_world

REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
REDIS_DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

UseThrottle = Callable[[LoginThrottle], LoginThrottle]


def _throttle(per_account: str, per_ip: str, redis_url: str | None = None) -> LoginThrottle:
    return LoginThrottle.from_settings(per_account, per_ip, redis_url)


@pytest.fixture
def use_throttle(app: Flask) -> Iterator[UseThrottle]:
    original = app.extensions[THROTTLE_KEY]

    def use(throttle: LoginThrottle) -> LoginThrottle:
        app.extensions[THROTTLE_KEY] = throttle
        return throttle

    yield use
    app.extensions[THROTTLE_KEY] = original


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, decode_responses=True)
    try:
        client.flushdb()
    except redis.ConnectionError:
        client.close()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    yield client
    client.flushdb()
    client.close()


def _assert_too_many(response_status: int, headers: dict[str, str]) -> int:
    assert response_status == 429
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_create_app_builds_the_throttle_from_settings(settings: Settings) -> None:
    extra = create_app(
        settings.with_(login_limit_per_account="3 per minute", login_limit_per_ip="7 per hour")
    )
    database_of(extra).engine.dispose()
    throttle = extra.extensions[THROTTLE_KEY]

    assert isinstance(throttle, LoginThrottle)
    assert [(i.amount, i.get_expiry()) for i in throttle.per_account] == [(3, 60)]
    assert [(i.amount, i.get_expiry()) for i in throttle.per_ip] == [(7, 3600)]


def test_account_locks_after_three_failures_even_for_the_right_password(
    app: Flask, session: Session, client: FlaskClient, use_throttle: UseThrottle
) -> None:
    use_throttle(_throttle("3 per minute", "100 per minute"))
    w = committed_world(session, app)
    victim, bystander = w.users["teacher_a"].username, w.users["teacher_a2"].username
    ip = "10.20.0.1"

    for _ in range(3):
        assert_unauthenticated(login(client, victim, "install-3001", password="guess-x", ip=ip))
    locked = login(client, victim, "install-3001", ip=ip)

    _assert_too_many(locked.status_code, dict(locked.headers))
    assert locked.json is not None
    assert locked.json["code"] == "too_many_requests" and locked.json["status"] == 429
    assert "access_token" not in locked.json
    # Another account from the same address is not affected.
    assert login(client, bystander, "install-3002", ip=ip).status_code == 200
    # Usernames are counted case-insensitively: a variant spelling gets no fresh budget.
    assert login(client, victim.upper(), "install-3001", ip=ip).status_code == 429


def test_successful_logins_do_not_use_up_the_account_budget(
    app: Flask, session: Session, client: FlaskClient, use_throttle: UseThrottle
) -> None:
    use_throttle(_throttle("3 per minute", "100 per minute"))
    w = committed_world(session, app)
    teacher = w.users["teacher_a"].username

    statuses = [
        login(client, teacher, "install-3003", ip="10.20.0.2").status_code for _ in range(5)
    ]

    assert statuses == [200] * 5


def test_per_ip_limit_trips_across_accounts(
    app: Flask, session: Session, client: FlaskClient, use_throttle: UseThrottle
) -> None:
    use_throttle(_throttle("100 per minute", "4 per minute"))
    w = committed_world(session, app)
    names = [w.users[k].username for k in ("teacher_a", "teacher_a2", "teacher_b", "bureau_a")]
    ip = "10.20.0.3"

    assert login(client, names[0], "install-3004", ip=ip).status_code == 200
    assert login(client, names[1], "install-3004", password="guess-x", ip=ip).status_code == 401
    assert login(client, names[2], "install-3004", ip=ip).status_code == 200
    assert login(client, "nobody-here", "install-3004", ip=ip).status_code == 401
    blocked = login(client, names[3], "install-3004", ip=ip)

    _assert_too_many(blocked.status_code, dict(blocked.headers))
    # The same account from another address still gets in.
    assert login(client, names[3], "install-3004", ip="10.20.0.4").status_code == 200


def test_counters_are_shared_between_processes_through_redis(
    app: Flask,
    session: Session,
    client: FlaskClient,
    use_throttle: UseThrottle,
    shared_redis: redis.Redis,
) -> None:
    w = committed_world(session, app)
    victim = w.users["teacher_a"].username
    first = _throttle("3 per minute", "100 per minute", REDIS_URL)
    second = _throttle("3 per minute", "100 per minute", REDIS_URL)

    use_throttle(first)
    for _ in range(3):
        assert_unauthenticated(login(client, victim, "install-3005", password="guess-x"))
    assert second.allow_account(victim) is False
    use_throttle(second)  # the next request lands on another process
    locked = login(client, victim, "install-3005")

    _assert_too_many(locked.status_code, dict(locked.headers))
    keys = {str(k) for k in shared_redis.keys("*")}
    assert any(f"user:{victim.lower()}" in k for k in keys), keys
    assert any("ip:" in k for k in keys), keys
    # Accounts still have their own counters in the shared store.
    assert login(client, w.users["teacher_a2"].username, "install-3006").status_code == 200


def test_limits_fall_back_to_memory_when_redis_is_down(
    app: Flask,
    session: Session,
    client: FlaskClient,
    use_throttle: UseThrottle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_throttle(_throttle("3 per minute", "100 per minute", REDIS_DOWN_URL))
    w = committed_world(session, app)
    victim = w.users["teacher_a"].username

    with caplog.at_level(logging.WARNING, logger="backend.auth.throttle"):
        # Below the limit, logins succeed although the shared store is unreachable.
        assert login(client, victim, "install-3007").status_code == 200
    assert "unreachable" in caplog.text

    for _ in range(3):
        assert_unauthenticated(login(client, victim, "install-3007", password="guess-x"))
    locked = login(client, victim, "install-3007")

    _assert_too_many(locked.status_code, dict(locked.headers))
    assert login(client, w.users["teacher_a2"].username, "install-3008").status_code == 200
