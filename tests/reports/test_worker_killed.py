"""A real RQ worker process killed in the middle of a tally: nothing half-written, and the
retried job produces the identical report (same content hash)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.clock import today
from backend.db import database_of
from backend.extensions import store_settings
from backend.jobs import relay
from backend.reports import tally
from backend.reports.jobs import request_tally
from backend.reports.models import HostMonthReport, ReportRun
from tests.faults.procs import kill_tree, rq_worker_command
from tests.live import LiveServer, live_server
from tests.test_jobs import REDIS_URL

LAST_MONTH = (today().replace(day=1) - timedelta(days=1)).replace(day=1)

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="needs PostgreSQL: a row lock holds the worker mid-tally (SQLite locks whole files)",
)


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("rqkill"), "rqkill") as live:
        store_settings(live.app, live.settings.with_(redis_url=REDIS_URL))
        yield live


def _worker(live: LiveServer, *, burst: bool, quiet: bool = False) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": live.settings.database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": live.settings.secret_key,
        "INSTANCE_PATH": str(live.settings.instance_path),
    }
    command = rq_worker_command(REDIS_URL, burst=burst)
    # Its own process group: the kill must take the work-horse that RQ forks as well.
    return subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else subprocess.PIPE,
    )


def _run(live: LiveServer, run_id: object) -> ReportRun:
    with database_of(live.app).unit_of_work() as session:
        run = session.get(ReportRun, run_id)
        assert run is not None
        session.expunge(run)
        return run


def _wait(predicate: object, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_a_killed_worker_leaves_nothing_and_the_retry_gives_the_same_report(
    server: LiveServer, tmp_path: Path
) -> None:
    import redis
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    from rq.serializers import JSONSerializer

    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    world = server.world()
    database = database_of(server.app)
    with server.app.app_context(), database.unit_of_work() as session:
        run = request_tally(session, world.member_a.id, LAST_MONTH, "month end")
        assert run is not None
        run_id = run.id
        # The commit relayed the job to Redis (the queue the worker reads).
    queue = Queue("ucomm", connection=connection, serializer=JSONSerializer)
    (job_id,) = queue.job_ids

    # Hold the change journal's lock: the tally stores the month's days first and waits here.
    blocker = database.engine.connect()
    blocker.execute(sa.text("SELECT serial FROM sync_clock FOR UPDATE"))
    worker = _worker(server, burst=True, quiet=True)  # to be killed: nothing to read
    try:
        _wait(lambda: _run(server, run_id).status == "running", "the worker to start the tally")
        time.sleep(0.5)  # well inside the tally now, blocked on the lock
        # The worker and its work-horse, which RQ puts in a process group of its own.
        kill_tree(worker.pid)
        worker.wait(timeout=10)
    finally:
        blocker.rollback()
        blocker.close()

    with database.unit_of_work() as session:
        assert session.scalars(sa.select(HostMonthReport)).all() == []  # nothing half-written
    assert _run(server, run_id).status == "running"  # as the dead worker left it

    # RQ's retry: the registry's clean-up (run by every worker now and then; here as if its
    # time had come) finds the job abandoned and, as the relay gave it retries
    # (backend.jobs.JOB_RETRIES), queues it again: nobody has to requeue it by hand.
    started = StartedJobRegistry(queue=queue)
    started.cleanup(time.time() + 10**6)
    assert FailedJobRegistry(queue=queue).get_job_ids() == []
    assert queue.job_ids == [job_id]
    retry = _worker(server, burst=True)
    _, stderr = retry.communicate(timeout=60)
    assert retry.returncode == 0, stderr.decode()[-2000:]

    finished = _run(server, run_id)
    assert finished.status == "done", finished.error
    with database.unit_of_work() as session:
        (report,) = session.scalars(sa.select(HostMonthReport)).all()
        assert report.content_hash == finished.result["content_hash"]
        # The same month tallied again, without any interruption, hashes the same.
        again = tally.tally(session, world.member_a.id, LAST_MONTH)
        assert tally.content_hash(again) == report.content_hash
    with server.app.app_context():
        assert relay(server.app) == 0
    connection.flushdb()
