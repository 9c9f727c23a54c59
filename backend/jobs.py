"""Background jobs: queued only after the data they need has committed (outbox), run by
RQ workers on Redis — or, on the embedded default, in this process right after commit.

A job is a top-level function decorated with :func:`job`, taking ids and primitives (RQ's
JSON serializer) and a session it must not commit: the wrapper runs it as one unit of
work. Jobs are idempotent; RQ delivers at least once.

``enqueue_after_commit`` writes an :class:`OutboxJob` row in the caller's transaction; when
that transaction commits the row is relayed. If the relay fails (Redis down) the row stays
and ``flask jobs relay`` (run it from cron) sends it later: nothing is lost and nothing
runs before its data exists.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

import rq
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, IdMixin, database_of, utcnow
from backend.extensions import settings_of
from backend.ops.metrics import JOB_FAILURES

log = logging.getLogger(__name__)
QUEUE = "ucomm"
_PENDING_KEY = "outbox_pending"


class OutboxJob(IdMixin, Base):
    __tablename__ = "job_outbox"
    __table_args__ = (sa.Index("ix_job_outbox_pending", "relayed_at", "created_at"),)

    name: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(1000), default="")


JobFunction = Callable[..., None]


def job(fn: Callable[..., None]) -> JobFunction:
    """Make ``fn(session, **kwargs)`` a job: called as ``fn(**kwargs)`` it runs as one unit
    of work in an app context (the current one, or the worker's own)."""

    @wraps(fn)
    def run(**kwargs: Any) -> None:
        app = current_app._get_current_object() if has_app_context() else _worker_app()  # type: ignore[attr-defined]
        with app.app_context(), database_of(app).unit_of_work() as session:
            fn(session, **kwargs)

    run.__job__ = True  # type: ignore[attr-defined]
    return run


def job_name(fn: JobFunction) -> str:
    if not getattr(fn, "__job__", False):
        raise TypeError(f"{fn!r} is not decorated with @job")
    return f"{fn.__module__}.{fn.__qualname__}"


def enqueue_after_commit(session: Session, fn: JobFunction, **kwargs: Any) -> OutboxJob:
    """Queue ``fn(**kwargs)`` to run once this session's transaction has committed."""
    json.dumps(kwargs)  # ids and primitives only: fail here, not in the worker
    row = OutboxJob(name=job_name(fn), args=kwargs)
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(row.id)
    return row


@event.listens_for(Session, "after_commit")
def _relay_committed(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if ids and has_app_context():
        try:
            relay(current_app._get_current_object(), ids)  # type: ignore[attr-defined]
        except Exception:
            # The work has committed: the request succeeded whatever happens here. The
            # rows stay unsent (the database went away right after the commit, say) and
            # `flask jobs relay` sends them later.
            log.exception("outbox rows %s committed but not relayed", ids)
            JOB_FAILURES.labels("relay").inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _resolve(name: str) -> JobFunction:
    module, _, attr = name.rpartition(".")
    fn: JobFunction = getattr(importlib.import_module(module), attr)
    return fn


# Handing a job to Redis takes milliseconds, or Redis is in trouble (down, or hung: a
# stopped server still accepts connections). A request never waits long on it: the row
# stays in the outbox for `flask jobs relay`.
REDIS_TIMEOUT_SECONDS = 1.0
# After a failed hand-off this process stops trying Redis after each commit for a while
# (each try would cost a request up to the timeout); `flask jobs relay` always tries.
REDIS_RETRY_AFTER_SECONDS = 10.0
# RQ delivers at least once, and a job whose worker died (SIGKILL, OOM, a lost host) is
# "abandoned": RQ's registry clean-up runs it again while it has retries left, instead
# of parking it in the failed registry for good. Jobs are idempotent, so a retry is safe.
JOB_RETRIES = 3
_redis_down_until: dict[str, float] = {}  # Redis URL -> monotonic time


def relay(app: Flask, ids: list[Any] | None = None) -> int:
    """Send committed outbox rows (these, or every one not yet sent) on; returns how many.

    With ``ids`` (right after a commit) nothing is sent to Redis while it was failing a
    moment ago: those rows wait for the periodic relay, which is called without ids.
    """
    settings = settings_of(app)
    database = database_of(app)
    redis_url = settings.redis_url
    if redis_url and ids is not None and time.monotonic() < _redis_down_until.get(redis_url, 0):
        return 0
    sent = 0
    with database.unit_of_work() as session:
        stmt = sa.select(OutboxJob).where(OutboxJob.relayed_at.is_(None))
        if ids is not None:
            stmt = stmt.where(OutboxJob.id.in_(ids))
        rows = list(session.scalars(stmt.order_by(OutboxJob.created_at)))
    for row in rows:
        try:
            if redis_url:
                _enqueue(redis_url, row)
            else:
                with app.app_context():
                    _resolve(row.name)(**row.args)
        except Exception as exc:  # the row stays; `flask jobs relay` tries again
            log.exception("job %s (%s) could not run or be queued", row.name, row.id)
            JOB_FAILURES.labels("relay").inc()
            if redis_url:
                _redis_down_until[redis_url] = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
            with database.unit_of_work() as session:
                session.execute(
                    sa.update(OutboxJob)
                    .where(OutboxJob.id == row.id)
                    .values(attempts=OutboxJob.attempts + 1, last_error=str(exc)[:1000])
                )
            if redis_url:
                break  # Redis is failing: the rest would wait for the timeout each
            continue
        with database.unit_of_work() as session:
            session.execute(
                sa.update(OutboxJob).where(OutboxJob.id == row.id).values(relayed_at=utcnow())
            )
        sent += 1
    if sent and redis_url:
        _redis_down_until.pop(redis_url, None)
    return sent


def _enqueue(redis_url: str, row: OutboxJob) -> None:
    _queue(redis_url).enqueue(
        row.name,
        kwargs=row.args,
        job_id=str(row.id),
        result_ttl=3600,
        retry=rq.Retry(max=JOB_RETRIES),
    )


_connections: dict[str, Any] = {}


def _queue(redis_url: str) -> Any:
    from redis import Redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    # One client (and connection pool) per URL and process; redis-py resets a pool that
    # crossed a fork.
    connection = _connections.get(redis_url)
    if connection is None:
        connection = _connections[redis_url] = Redis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    return Queue(QUEUE, connection=connection, serializer=JSONSerializer)


_app: Flask | None = None


def _worker_app() -> Flask:
    """The app of an RQ work-horse process (created there, after the fork)."""
    global _app
    if _app is None:
        from backend.app import create_app

        _app = create_app()
    return _app


# Every module that defines jobs (a worker imports them before forking work-horses).
JOB_MODULES = (
    "backend.attendance.jobs",
    "backend.reports.jobs",
    "backend.reports.webhooks",
    "media.jobs",
)


class Worker(rq.Worker):
    """The worker to deploy: ``rq worker --worker-class backend.jobs.Worker …``.

    RQ forks a work-horse per job, and its own worker has imported nothing of ours: each
    work-horse then imports the app, the image libraries and runs the app factory —
    seconds of CPU before a photo of a few milliseconds' work. This one does that once,
    before the first fork; every work-horse starts warm (and gets its own connections:
    see :func:`_dispose_after_fork`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = _worker_app()
        for name in JOB_MODULES:
            module = importlib.import_module(name)
            # A module may make what its jobs would otherwise make in every work-horse.
            prepare: Callable[[Flask], None] | None = getattr(module, "prepare_worker", None)
            if prepare is not None:
                prepare(app)
        # What is loaded now lives as long as the worker: out of the collector's sight, a
        # work-horse's collections do not touch (and so copy) the inherited pages.
        gc.freeze()


def _dispose_after_fork() -> None:
    # A forked child must not reuse the parent's pooled connections.
    if _app is not None:
        database_of(_app).engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_after_fork)
