"""PostgreSQL restarted, crashed and frozen under the service (a private cluster).

While the database is away every request that fails is a clean ``503 unavailable`` with
``Retry-After`` (never a 500, never a hang), nothing is half-written (a push is all of
its records or none, an upload is its photo and its job or neither), and the service
answers again by itself, with the same gunicorn workers. ``/health/ready`` answers 503
quickly, also when the database hangs instead of refusing.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.attendance.models import CheckIn
from backend.db import database_of
from backend.jobs import OutboxJob
from media.models import Photo, Upload
from tests.faults.conftest import needs_postgres, needs_postgres_binaries
from tests.faults.load import RECORDS_PER_PUSH, Load
from tests.faults.procs import (
    PrivatePostgres,
    Processes,
    free_port,
    gunicorn_worker_pids,
    start_gunicorn,
    wait_until,
)
from tests.faults.support import build_world, call, child_env, migrated_app, service_env

pytestmark = [needs_postgres, needs_postgres_binaries]

# No request may take longer than this, whatever the database does (a client's timeout).
REQUEST_BOUND_SECONDS = 10.0
# /health/ready answers within this while the database refuses or hangs.
READY_BOUND_SECONDS = 4.0


def _create_database(cluster: PrivatePostgres, name: str) -> str:
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture
def service(private_postgres: PrivatePostgres, tmp_path: Path) -> dict[str, str]:
    """The service's settings, on a database of this test's own in the private cluster."""
    private_postgres.ensure_running()
    name = f"ucomm_{uuid.uuid4().hex[:8]}"
    return service_env(tmp_path / "instance", _create_database(private_postgres, name))


def _ready(base_url: str) -> tuple[int, dict[str, object], float]:
    reply = call(base_url, "GET", "/health/ready", timeout=30)
    return reply.status, reply.json(), reply.seconds


def test_requests_fail_cleanly_and_recover_when_postgres_restarts_under_load(
    private_postgres: PrivatePostgres, service: dict[str, str], processes: Processes
) -> None:
    cluster = private_postgres
    with migrated_app(service) as app:
        world = build_world(app, teachers=4)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = start_gunicorn(processes, child_env(service), port)
        workers = gunicorn_worker_pids(api)
        load = Load(base, world.phones, uploads=True)
        load.start()
        try:
            wait_until(lambda: load.successes() >= 8, "pushes before the fault")

            # 1. A clean restart (sessions ended by the server).
            cluster.stop("fast")
            down_at = len(load.attempts)
            time.sleep(0.5)  # the load meets a database that is not there
            cluster.start()
            before = load.successes()
            wait_until(lambda: load.successes() >= before + 8, "pushes after the restart")

            # 2. A crash: every backend killed at once, crash recovery on start.
            cluster.stop("immediate")
            status, body, seconds = _ready(base)
            assert status == 503 and body["failing"] == ["database"], body
            assert seconds < READY_BOUND_SECONDS
            time.sleep(0.5)
            cluster.start()
            before = load.successes()
            wait_until(lambda: load.successes() >= before + 8, "pushes after the crash")
            uploads = load.successes("upload")
            wait_until(lambda: load.successes("upload") > uploads, "an upload after the crash")
        finally:
            load.stop()

        # Every request that failed failed cleanly: 503 "unavailable", Retry-After, fast.
        by_outcome = collections.Counter((a.kind, a.status, a.code) for a in load.attempts)
        failed = [a for a in load.attempts if a.status is None or a.status >= 300]
        assert failed, f"the load never met the fault: {by_outcome}"
        assert any(a.status == 503 for a in load.attempts[down_at:]), by_outcome
        bad = [a for a in failed if a.status != 503 or a.code != "unavailable"]
        assert not bad, f"not a clean 503: {bad[:5]} of {by_outcome}"
        assert all(a.retry_after and int(a.retry_after) >= 1 for a in failed)
        slowest = max(a.seconds for a in load.attempts)
        assert slowest < REQUEST_BOUND_SECONDS, slowest
        assert not load.unfinished
        # It recovered by itself: same master, same workers, ready again.
        assert api.alive() and gunicorn_worker_pids(api) == workers
        status, body, _ = _ready(base)
        assert status == 200, body

        # Nothing half-written: every push is all its records (and was retried to 200).
        database = database_of(app)
        pushes = load.done["push"]
        with database.unit_of_work() as session:
            stored = collections.Counter(
                record_id[: -len("000")] for record_id in session.scalars(sa.select(CheckIn.id))
            )
            assert stored == dict.fromkeys(pushes, RECORDS_PER_PUSH)
            # An upload is its photo and the photo's job, or nothing.
            photos = {
                photo_id: photo_pk
                for photo_id, photo_pk in session.execute(sa.select(Photo.photo_id, Photo.id))
            }
            assert set(photos) == set(load.done["upload"])
            complete = set(
                session.scalars(sa.select(Upload.photo_id).where(Upload.status == "complete"))
            )
            assert complete == set(photos)
            jobs = collections.Counter(
                args["photo_pk"]
                for args in session.scalars(
                    sa.select(OutboxJob.args).where(OutboxJob.name == "media.jobs.process_photo")
                )
            )
            assert jobs == dict.fromkeys((str(pk) for pk in photos.values()), 1)


def test_readiness_answers_quickly_while_the_database_hangs(
    private_postgres: PrivatePostgres, service: dict[str, str]
) -> None:
    """A frozen database accepts connections (the kernel does) but never answers: the
    probe must still answer 503 within its bound, not when the database wakes up."""
    with migrated_app(service) as app:
        client = app.test_client()
        assert client.get("/health/ready").status_code == 200

        answers: list[tuple[int, float]] = []

        def probe() -> None:
            started = time.monotonic()
            response = client.get("/health/ready")
            answers.append((response.status_code, time.monotonic() - started))

        private_postgres.freeze()
        try:
            thread = threading.Thread(target=probe, daemon=True)
            thread.start()
            thread.join(timeout=READY_BOUND_SECONDS + 5)
        finally:
            private_postgres.thaw()
        thread.join(timeout=30)
        assert answers, "the readiness probe hung"
        ((status, seconds),) = answers
        assert status == 503 and seconds < READY_BOUND_SECONDS, (status, seconds)
        # Thawed, the database answers again, and so does the probe.
        wait_until(lambda: client.get("/health/ready").status_code == 200, "ready again")
