"""Readiness checks: the database, Redis (when configured) and media storage, each timed.

A check never raises: it reports ``ok`` or ``fail`` (with the error's class; the details
go to the log, not to an unauthenticated caller).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
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
DATABASE_TIMEOUT_SECONDS = 2.0
_PENDING_PROBE_KEY = "ucomm.readiness_database_probe"


class DatabaseTimeout(TimeoutError):
    """The database did not answer the readiness query in time (a host that hangs)."""


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


def _select_one(app: Flask) -> None:
    with database_of(app).new_session() as session:
        session.execute(sa.text("SELECT 1"))


def check_database(app: Flask, timeout: float = DATABASE_TIMEOUT_SECONDS) -> None:
    """``SELECT 1``, answered within ``timeout`` seconds or failed.

    A refused connection fails at once, but a database host that hangs (or a server that
    accepted the connection and stopped) would hold the probe for as long as it hangs:
    libpq has no read timeout. So the query runs in a thread the probe stops waiting for.
    At most one such thread per process waits on a hung database: while it does, later
    probes fail at once instead of adding more. (SQLite is a local file: no thread.)
    """
    if database_of(app).engine.dialect.name == "sqlite":
        _select_one(app)
        return
    pending: Future[None] | None = app.extensions.get(_PENDING_PROBE_KEY)
    if pending is not None and not pending.done():
        raise DatabaseTimeout("the previous check is still waiting for the database")
    future: Future[None] = Future()

    def probe() -> None:
        try:
            _select_one(app)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    app.extensions[_PENDING_PROBE_KEY] = future
    threading.Thread(target=probe, name="readiness-database", daemon=True).start()
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        raise DatabaseTimeout(f"no answer from the database within {timeout}s") from None


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
