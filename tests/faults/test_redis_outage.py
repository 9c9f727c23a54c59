"""Redis away (a private redis-server: first hung, then gone) while the API serves.

Check-ins, photo uploads and leave approvals still succeed, quickly: their jobs wait in
the outbox (the database). Login limits keep limiting from each process's memory, and
say so in the log. When Redis is back, ``flask jobs relay`` (cron's job) hands the
waiting jobs over and an ``rq worker`` drains them: the photos are processed and the
check-ins naming them learn it.

The outage lasts ``FAULT_REDIS_OUTAGE_SECONDS`` (default 3; the issue's "minutes" is a
soak run: ``FAULT_REDIS_OUTAGE_SECONDS=300``); traffic keeps flowing all through it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import sqlalchemy as sa

from backend.attendance.models import CheckIn
from backend.db import database_of
from backend.jobs import OutboxJob, relay
from media.models import Photo
from tests.faults.conftest import needs_postgres, needs_redis_server
from tests.faults.load import small_jpeg
from tests.faults.procs import (
    PrivateRedis,
    Processes,
    free_port,
    start_gunicorn,
    start_rq_worker,
    wait_until,
)
from tests.faults.support import (
    HttpPhone,
    Reply,
    build_world,
    call,
    check_ins,
    child_env,
    migrated_app,
    service_env,
    tus_upload,
)
from tests.sync.phone import check_in

pytestmark = [needs_postgres, needs_redis_server]

OUTAGE_SECONDS = float(os.environ.get("FAULT_REDIS_OUTAGE_SECONDS", "3"))
# Nothing a phone or an admin does may wait on Redis for long.
FAST_SECONDS = 2.0
ACCOUNT_LIMIT = 5  # LOGIN_LIMIT_PER_ACCOUNT, per minute
WORKERS = 2


def _ok(reply: Reply, status: int) -> Reply:
    assert reply.status == status, (reply.status, reply.body[:500])
    assert reply.seconds < FAST_SECONDS, f"{reply.seconds:.2f}s: waited on Redis"
    return reply


def _leave_filed_approved_and_withdrawn(
    base: str, teacher: dict[str, str], host_admin: dict[str, str], leave_id: str
) -> None:
    """Leave for a past workday, approved by the host school, then withdrawn by it (so the
    next round may ask for the same day again)."""
    leave = {
        "id": leave_id,
        "leave_type": "personal",
        "start_on": "2026-11-16",
        "end_on": "2026-11-16",
        "reason": "看病",
    }
    _ok(call(base, "POST", "/api/v1/leave-requests", headers=teacher, json_body=leave), 201)
    path = f"/api/v1/leave-requests/{leave_id}"
    approved = call(base, "POST", f"{path}/approve", headers=host_admin, json_body={"note": "同意"})
    assert _ok(approved, 200).json()["status"] == "approved"
    _ok(call(base, "POST", f"{path}/cancel", headers=host_admin), 200)


def test_work_goes_on_while_redis_is_away_and_drains_when_it_returns(
    database_url: str, processes: Processes, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    service = service_env(
        tmp_path / "instance",
        database_url,
        redis_server.url,
        LOGIN_LIMIT_PER_ACCOUNT=f"{ACCOUNT_LIMIT} per minute",
    )
    env = child_env(service)
    with migrated_app(service) as app:
        fault = build_world(app, teachers=2)
        world = fault.world
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = start_gunicorn(processes, env, port, workers=WORKERS)
        phone = HttpPhone(base, fault.phones[0])
        teacher = fault.phones[0].headers
        host_admin = world.headers["host_admin_a"]
        _ok(phone.pull(), 200)

        assert redis_server.process is not None
        redis_server.process.signal_group(signal.SIGSTOP)  # hung: connects, never answers
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        photos: dict[str, str] = {}  # photo id -> sha256
        n = 0
        while n < 2 or time.monotonic() < outage_ends:
            if n == 1:  # from the second round on, Redis is gone (until restarted)
                redis_server.process.kill()
            # A check-in with its selfie, the way a phone sends them: record, then photo
            # (a photo every round would only make the worker's part longer).
            with_photo = n < 2 or n % 20 == 0
            records = check_ins(f"outage{n:04d}s", 2)
            if with_photo:
                data = small_jpeg(n)
                photo_id = f"outage-{n:04d}"
                photos[photo_id] = hashlib.sha256(data).hexdigest()
                records.append(
                    check_in(f"outage{n:04d}p", photo_id=photo_id, photo_sha256=photos[photo_id])
                )
            body = _ok(phone.push(records), 200).json()
            assert (body["applied"], body["quarantined"]) == (len(records), 0), body
            if with_photo:
                _ok(tus_upload(base, teacher, photo_id, data), 201)
            _leave_filed_approved_and_withdrawn(base, teacher, host_admin, f"outage-leave-{n:04d}")
            # The readiness probe says what is wrong, quickly.
            ready = call(base, "GET", "/health/ready")
            assert ready.status == 503 and ready.json()["failing"] == ["redis"], ready.body
            assert ready.seconds < FAST_SECONDS
            n += 1
            time.sleep(0.1)

        # Login limits still hold: each process counts in its own memory meanwhile, so
        # the limit is reached after at most ACCOUNT_LIMIT attempts per worker process.
        username = world.users["teacher_a2"].username
        statuses = []
        for _ in range(ACCOUNT_LIMIT * WORKERS + 1):
            reply = call(
                base,
                "POST",
                "/api/v1/auth/login",
                json_body={"username": username, "password": "wrong", "device_id": "dev-x1"},
            )
            assert reply.seconds < FAST_SECONDS
            statuses.append(reply.status)
            if reply.status == 429:
                assert int(reply.headers["retry-after"]) >= 1
                break
        assert statuses[:ACCOUNT_LIMIT] == [401] * ACCOUNT_LIMIT, statuses
        assert statuses[-1] == 429, statuses
        assert "using in-process limits" in api.output()

        database = database_of(app)
        with database.unit_of_work() as session:
            waiting = session.scalars(
                sa.select(OutboxJob.args).where(
                    OutboxJob.name == "media.jobs.process_photo", OutboxJob.relayed_at.is_(None)
                )
            ).all()
            assert len(waiting) == len(photos)  # every photo's job, kept in the database
            states = dict(
                session.execute(
                    sa.select(CheckIn.photo_id, CheckIn.photo_state).where(
                        CheckIn.photo_id.in_(photos)
                    )
                ).all()
            )
            assert states == dict.fromkeys(photos, "uploading")  # stored, not processed yet

        # Redis is back: cron's relay (`flask jobs relay`: this function) hands the jobs
        # over, a worker drains the queue.
        redis_server.start()
        assert relay(app) == len(photos)
        worker = start_rq_worker(processes, env, redis_server.url, burst=True)
        assert worker.wait(timeout=120) == 0, worker.output()[-3000:]

        with database.unit_of_work() as session:
            pending = session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxJob)
                .where(OutboxJob.relayed_at.is_(None))
            )
            assert pending == 0
            stored = dict(
                session.execute(
                    sa.select(Photo.photo_id, Photo.status).where(Photo.photo_id.in_(photos))
                ).all()
            )
            assert stored == dict.fromkeys(photos, "valid")
            states = dict(
                session.execute(
                    sa.select(CheckIn.photo_id, CheckIn.photo_state).where(
                        CheckIn.photo_id.in_(photos)
                    )
                ).all()
            )
            assert states == dict.fromkeys(photos, "verified")
        import redis

        connection = redis.Redis.from_url(redis_server.url)
        assert connection.llen("rq:queue:ucomm") == 0
        assert connection.zcard("rq:failed:ucomm") == 0
        connection.close()
        wait_until(lambda: call(base, "GET", "/health/ready").status == 200, "ready again")
