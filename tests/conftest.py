"""Test harness: the schema is built by the real migrations; each test runs inside one
outer transaction that is rolled back (every request's commit is a savepoint within it).

Backend: ``TEST_DATABASE_URL`` (PostgreSQL) or, unset, a fresh SQLite file. The README's
test command runs the suite on both.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.auth import passwords
from backend.cli import upgrade_database
from backend.config import Settings
from backend.db import database_of

if TYPE_CHECKING:
    from tests import factories
    from tests.live import LiveServer
    from tests.sync.phone import Phone

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def _guard_network() -> None:
    """Tests may reach only this machine (PostgreSQL, Redis, servers they start)."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else ""
            if host not in {"127.0.0.1", "::1", "localhost"}:
                raise RuntimeError(f"tests must not reach the network: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]


_guard_network()


def _fresh_postgres(url: str, purpose: str = "suite") -> str:
    """A database of its own for this run and purpose, dropped and created anew."""
    base = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    name = f"{base.database or 'test'}_ucomm_{purpose}_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_postgres(url: str) -> None:
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of the suite's app, on a database of its own."""
    instance = tmp_path_factory.mktemp("instance")
    pg = os.environ.get("TEST_DATABASE_URL")
    database_url = _fresh_postgres(pg) if pg else f"sqlite:///{instance / 'test.sqlite3'}"
    yield Settings.from_env(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            # Generous here; the throttle's own tests build apps with tight limits.
            "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
            "LOGIN_LIMIT_PER_IP": "1000 per minute",
        }
    )
    if pg:
        _drop_postgres(database_url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[Flask]:
    # Hashing at the production cost would spend most of the suite's time in Argon2.
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    application = create_app(settings)
    with database_of(application).engine.begin() as connection:
        upgrade_database(connection)
    yield application
    database_of(application).engine.dispose()


@pytest.fixture(scope="session")
def is_postgres(settings: Settings) -> bool:
    return not settings.is_sqlite


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """The test's own session, on the connection every request's session joins as well.

    No app context is pushed here on purpose: Flask reuses an active app context (and its
    ``g``) for requests, and a request must get its own session and commit point.
    """
    database = database_of(app)
    connection = database.engine.connect()
    outer = connection.begin()
    database.bind_sessions(bind=connection, join_transaction_mode="create_savepoint")
    test_session = database.new_session()
    yield test_session
    test_session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def client(app: Flask, session: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def live(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A served app on its own database with real commits (see tests/live.py)."""
    from tests.live import live_server

    with live_server(tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture
def world(app: Flask, session: Session) -> factories.World:
    """Two counties with schools, communities, teachers, secondments and logins, committed."""
    from tests import factories

    return factories.committed_world(session, app)


@pytest.fixture
def phone(client: FlaskClient, session: Session, world: factories.World) -> Phone:
    """Teacher A's phone (sync tests' simulated WatermelonDB client)."""
    from tests.sync.phone import phone_for

    return phone_for(client, session, world, "teacher_a")
