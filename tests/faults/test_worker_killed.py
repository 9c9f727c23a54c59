"""An RQ worker (and its work-horse) killed with SIGKILL in the middle of a photo's job:
the photo is processed and committed, the check-in naming it not yet told (the job
commits the photo first, then tells the records: see ``media.jobs.process_photo``). RQ's
clean-up of the abandoned job retries it by itself; the retry tells the check-in, and
the photo is the very one an uninterrupted run makes (same derivative bytes, same
findings).

The roll-up half (a worker killed mid-tally; the retried tally hashes the same) is
``tests/reports/test_worker_killed.py``.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import sqlalchemy as sa

from backend.attendance.models import CheckIn
from backend.db import database_of
from backend.extensions import settings_of
from backend.jobs import OutboxJob
from media import services
from media.images import process_image
from media.models import Photo
from tests.faults.conftest import needs_postgres, needs_redis_server
from tests.faults.procs import PrivateRedis, Processes, start_rq_worker, wait_until
from tests.faults.support import build_world, child_env, migrated_app, service_env
from tests.media.test_processing import CAPTURED, photo_bytes, store_photo
from tests.sync.phone import Phone, check_in

pytestmark = [needs_postgres, needs_redis_server]

LOCK_WAITERS = sa.text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    " AND query ILIKE '%sync_clock%'"
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_worker_killed_mid_photo_is_retried_to_the_same_photo(
    database_url: str, processes: Processes, redis_server: PrivateRedis, tmp_path: Path
) -> None:
    import redis
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    from rq.serializers import JSONSerializer

    service = service_env(tmp_path / "instance", database_url, redis_server.url)
    env = child_env(service)
    with migrated_app(service) as app:
        identity = build_world(app, teachers=1).phones[0]
        data = photo_bytes(5)
        sha = _sha(data)
        # The phone's check-in naming the selfie, then the selfie: stored, its job queued.
        phone = Phone(app.test_client(), identity.headers, identity.device_id)
        phone.pull()
        record = check_in(
            "killed-photo-0001",
            photo_id="selfie-1",
            photo_sha256=sha,
            captured_at=int(CAPTURED.timestamp() * 1000),
        )
        pushed = phone.push_request(
            {"check_ins": {"created": [record], "updated": [], "deleted": []}}
        )
        assert pushed.status_code == 200, pushed.json
        store_photo(app, identity.user_id, "selfie-1", data)
        connection = redis.Redis.from_url(redis_server.url)
        queue = Queue("ucomm", connection=connection, serializer=JSONSerializer)
        (job_id,) = queue.job_ids

        database = database_of(app)
        store = services.storage(app)
        thumb_key = services.derived_key(sha, "thumb.jpg")
        view_key = services.derived_key(sha, "view.jpg")
        # Hold the change journal's lock: telling the check-in updates it, so the job's
        # second commit waits here — after the photo's own commit.
        blocker = database.engine.connect()
        blocker.execute(sa.text("SELECT serial FROM sync_clock FOR UPDATE"))
        try:
            worker = start_rq_worker(processes, env, redis_server.url, burst=True)

            def blocked() -> bool:
                # A new transaction each time: pg_stat_activity is a per-transaction snapshot.
                with database.engine.connect() as watcher:
                    return bool(watcher.execute(LOCK_WAITERS).scalar_one())

            wait_until(blocked, "the work-horse to block telling the check-in", timeout=60)
            assert store.exists(thumb_key) and store.exists(view_key)  # its side effects
            horse = worker.kill()  # SIGKILL to the worker and its work-horse, both dead now
            assert horse, "no work-horse was running"
        finally:
            blocker.rollback()
            blocker.close()

        with database.unit_of_work() as session:
            photo = session.scalars(sa.select(Photo).where(Photo.photo_id == "selfie-1")).one()
            assert photo.processed_at is not None and photo.thumb_key == thumb_key
            assert session.get(CheckIn, "killed-photo-0001").photo_state == "uploading"  # type: ignore[union-attr]

        # RQ's clean-up (every worker runs it now and then; here as if its time had come)
        # finds the job abandoned and queues it again: it has retries left.
        StartedJobRegistry(queue=queue).cleanup(time.time() + 10**6)
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
        assert queue.job_ids == [job_id]
        retry = start_rq_worker(processes, env, redis_server.url, burst=True, name="retry")
        assert retry.wait(timeout=120) == 0, retry.output()[-3000:]

        # The same as a run that was never interrupted: this very function, run here.
        clean = process_image(data, max_pixels=settings_of(app).image_max_pixels)
        assert clean.valid and clean.thumbnail and clean.view
        with database.unit_of_work() as session:
            photo = session.scalars(sa.select(Photo).where(Photo.photo_id == "selfie-1")).one()
            stored = (
                photo.status,
                photo.detected_format,
                photo.width,
                photo.height,
                photo.exif_taken_at,
                photo.phash,
                photo.thumb_key,
                photo.view_key,
            )
            expected = (
                "valid",
                clean.format,
                clean.width,
                clean.height,
                clean.exif_taken_at,
                clean.phash,
                thumb_key,
                view_key,
            )
            assert stored == expected
            assert session.get(CheckIn, "killed-photo-0001").photo_state == "verified"  # type: ignore[union-attr]
            unsent = session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxJob)
                .where(OutboxJob.relayed_at.is_(None))
            )
            assert unsent == 0
        with store.open(thumb_key) as thumb, store.open(view_key) as view:
            assert (_sha(thumb.read()), _sha(view.read())) == (
                _sha(clean.thumbnail),
                _sha(clean.view),
            )
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
        assert queue.job_ids == []
        connection.close()
