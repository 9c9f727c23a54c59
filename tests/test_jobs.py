"""Jobs leave only after their data commits, and none is lost when Redis is down."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from backend.db import database_of
from backend.extensions import settings_of, store_settings
from backend.jobs import OutboxJob, enqueue_after_commit, job, relay
from backend.org.models import Region
from backend.org.services import create_region

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@job
def name_region(session: Session, code: str, name: str) -> None:
    """A real job: it changes data, so a test can see that it ran (and ran once)."""
    region = session.scalars(sa.select(Region).where(Region.code == code)).one()
    region.name = name


@job
def broken_job(session: Session, code: str) -> None:
    raise RuntimeError(f"cannot handle {code}")


def _region(session: Session, code: str) -> Region:
    session.expire_all()
    return session.scalars(sa.select(Region).where(Region.code == code)).one()


@pytest.fixture
def ctx(app: Flask, session: Session) -> Iterator[Flask]:
    with app.app_context():
        yield app


def _queue_rename(app: Flask, code: str, name: str, *, fail: bool = False) -> None:
    with database_of(app).unit_of_work() as uow:
        if uow.scalar(sa.select(Region.id).where(Region.code == code)) is None:
            create_region(uow, code=code, name="before", level="province", parent_id=None)
        if fail:
            enqueue_after_commit(uow, broken_job, code=code)
        else:
            enqueue_after_commit(uow, name_region, code=code, name=name)


def test_job_runs_after_commit_in_process(ctx: Flask, session: Session) -> None:
    _queue_rename(ctx, "J1", "after")
    assert _region(session, "J1").name == "after"
    row = session.scalars(
        sa.select(OutboxJob).where(OutboxJob.args["code"].as_string() == "J1")
    ).one()
    assert row.relayed_at is not None and row.name.endswith("name_region")


def test_rolled_back_work_queues_nothing(ctx: Flask, session: Session) -> None:
    with pytest.raises(RuntimeError), database_of(ctx).unit_of_work() as uow:
        create_region(uow, code="J2", name="before", level="province", parent_id=None)
        enqueue_after_commit(uow, name_region, code="J2", name="after")
        raise RuntimeError("the request failed")
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 0


def test_failed_job_stays_queued_and_relay_retries(ctx: Flask, session: Session) -> None:
    _queue_rename(ctx, "J3", "", fail=True)
    row = session.scalars(sa.select(OutboxJob)).one()
    assert row.relayed_at is None and row.attempts == 1 and "J3" in row.last_error
    assert relay(ctx) == 0  # still failing: kept, counted
    session.expire_all()
    assert session.get(OutboxJob, row.id).attempts == 2  # type: ignore[union-attr]


def test_jobs_refuse_non_json_arguments(ctx: Flask) -> None:
    with pytest.raises(TypeError), database_of(ctx).unit_of_work() as uow:
        enqueue_after_commit(uow, name_region, code=object(), name="x")


def test_with_redis_jobs_go_to_rq_and_survive_an_outage(ctx: Flask, session: Session) -> None:
    import redis
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis is not running at {REDIS_URL} (.ci/run starts it)")
    connection.flushdb()
    original = settings_of(ctx)
    try:
        # Redis down: the work commits, the job waits in the outbox.
        store_settings(ctx, original.with_(redis_url="redis://127.0.0.1:1/0"))
        _queue_rename(ctx, "J4", "via rq")
        row = session.scalars(sa.select(OutboxJob)).one()
        assert row.relayed_at is None and row.attempts == 1
        # Redis back: the relay sends it, with the outbox id as the RQ job id.
        store_settings(ctx, original.with_(redis_url=REDIS_URL))
        assert relay(ctx) == 1
        queue = Queue("ucomm", connection=connection, serializer=JSONSerializer)
        assert queue.job_ids == [str(row.id)]
        assert _region(session, "J4").name == "before"  # not run yet: a worker runs it
        SimpleWorker([queue], connection=connection, serializer=JSONSerializer).work(burst=True)
        assert _region(session, "J4").name == "via rq"
    finally:
        store_settings(ctx, original)
        connection.flushdb()


@pytest.mark.db_independent
def test_the_worker_preloads_every_module_that_defines_jobs(repo_root: Path) -> None:
    """backend.jobs.Worker imports JOB_MODULES before forking: a module missing there would
    make its jobs pay the imports in every work-horse again."""
    from backend.jobs import JOB_MODULES

    defining = {
        ".".join(path.relative_to(repo_root).with_suffix("").parts)
        for package in ("backend", "sync", "media")
        for path in (repo_root / package).rglob("*.py")
        if "\n@job\n" in path.read_text(encoding="utf-8")
    }
    assert defining == set(JOB_MODULES)
