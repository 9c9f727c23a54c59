"""Readiness checks: the database, Redis (when configured) and media storage, each timed.

A check never raises: it reports ``ok`` or ``fail`` (with the error's class; the details
go to the log, not to an unauthenticated caller).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from backend.db import database_of
from backend.extensions import settings_of
from media.services import storage
from media.storage import LocalStorage

log = logging.getLogger(__name__)

# A probe should answer well within a load balancer's timeout.
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "fail",
            "latency_ms": self.latency_ms,
        }
        if self.error:
            body["error"] = self.error
        return body


def _timed(name: str, check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        log.warning("readiness check %s failed", name, exc_info=True)
        error = type(exc).__name__
        return CheckResult(name, False, _ms_since(started), error)
    return CheckResult(name, True, _ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database(app: Flask) -> None:
    with database_of(app).new_session() as session:
        session.execute(sa.text("SELECT 1"))


def check_redis(redis_url: str) -> None:
    from redis import Redis

    connection = Redis.from_url(
        redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        connection.ping()
    finally:
        connection.close()


def check_storage(app: Flask) -> None:
    store: Any = storage(app)
    if isinstance(store, LocalStorage):
        # The root is made on the first upload: until then its nearest existing parent
        # must be writable.
        folder: Path = store.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"{folder} is not writable")
    elif store.name == "s3":
        store.client.head_bucket(Bucket=store.bucket)
    # The memory store (tests) is always there.


def readiness(app: Flask) -> list[CheckResult]:
    settings = settings_of(app)
    results = [_timed("database", lambda: check_database(app))]
    redis_url = settings.redis_url
    if redis_url:
        results.append(_timed("redis", lambda: check_redis(redis_url)))
    results.append(_timed("storage", lambda: check_storage(app)))
    return results
