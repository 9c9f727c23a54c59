"""Fixtures of the fault tests: processes cleaned up at teardown (their logs printed when a
test fails), a private Redis, a private PostgreSQL cluster, a database of the test's own
on the suite's PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles

from backend.auth import passwords
from tests.conftest import _drop_postgres, _fresh_postgres
from tests.faults.procs import PrivatePostgres, PrivateRedis, Processes, postgres_bindir

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

# The service is deployed on PostgreSQL; the fault tests run it there. CI's SQLite pass
# (TEST_DATABASE_URL empty) skips them, as it skips the other PostgreSQL-only tests.
needs_postgres = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgres"),
    reason="fault tests run the service on PostgreSQL: set TEST_DATABASE_URL",
)
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="needs the redis-server binary (a private Redis is started and stopped)",
)
needs_postgres_binaries = pytest.mark.skipif(
    postgres_bindir() is None,
    reason="needs initdb and pg_ctl (a private cluster is restarted): set PG_BINDIR",
)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The world's users are made here; the servers verify with the hashes' own parameters.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Start processes through this; every one is stopped (whole process group) after."""
    group = Processes(tmp_path / "logs")
    try:
        yield group
    finally:
        # Shown by pytest only when the test failed.
        print(group.report())
        group.stop_all()


@pytest.fixture
def redis_server(processes: Processes, tmp_path: Path) -> PrivateRedis:
    server = PrivateRedis(processes, tmp_path / "redis")
    server.start()
    return server


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A cluster of the module's own (each test makes its databases in it)."""
    bindir = postgres_bindir()
    assert bindir is not None
    cluster = PrivatePostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        print(cluster.log_tail(40))
        cluster.destroy()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the suite's PostgreSQL, dropped after the test."""
    purpose = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:20]
    url = _fresh_postgres(TEST_DATABASE_URL, f"fault_{purpose}")
    try:
        yield url
    finally:
        _drop_postgres(url)
