"""A live server for tests that need real commits and real concurrency: its own database
(migrated), its own app, served by werkzeug on 127.0.0.1 in a thread.

Used by the concurrency tests, the real WatermelonDB client test and the benchmarks'
smoke test; the rest of the suite runs inside rolled-back transactions instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from backend.app import create_app
from backend.cli import upgrade_database
from backend.config import Settings
from backend.db import database_of
from tests import factories
from tests.conftest import TEST_SECRET, _drop_postgres, _fresh_postgres


@dataclass
class LiveServer:
    app: Flask
    settings: Settings
    base_url: str
    _server: BaseWSGIServer
    _thread: threading.Thread

    def world(self) -> factories.World:
        """A committed world of two counties, with tokens for every persona."""
        with database_of(self.app).unit_of_work() as session:
            return factories.world(session, self.app)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        database_of(self.app).engine.dispose()


def live_settings(instance: Path, purpose: str) -> tuple[Settings, str | None]:
    pg = os.environ.get("TEST_DATABASE_URL")
    url = _fresh_postgres(pg, purpose) if pg else f"sqlite:///{instance / f'{purpose}.sqlite3'}"
    settings = Settings.from_env(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
            "LOGIN_LIMIT_PER_IP": "10000 per minute",
        }
    )
    return settings, url if pg else None


@contextmanager
def live_server(instance: Path, purpose: str = "live") -> Iterator[LiveServer]:
    settings, pg_url = live_settings(instance, purpose)
    app = create_app(settings)
    with database_of(app).engine.begin() as connection:
        upgrade_database(connection)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = LiveServer(app, settings, f"http://127.0.0.1:{server.server_port}", server, thread)
    try:
        yield live
    finally:
        live.stop()
        if pg_url:
            _drop_postgres(pg_url)
