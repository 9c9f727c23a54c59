"""Report jobs, safe under RQ's at-least-once delivery.

- Each run is a :class:`ReportRun` row whose ``key`` (kind, school, month) is unique among
  queued and running runs — a partial unique index — so a trigger fired twice, or two
  schedulers at once, queue the work once. A run already done is not redone by a repeated
  delivery of its job.
- The work is deterministic (``services``): a worker killed mid-tally leaves its
  transaction uncommitted, and the retry produces the identical report (same hash).
- Jobs are queued through the outbox after commit (``backend.jobs``): with Redis down,
  the API keeps working and the outbox drains when it returns.
- :func:`reconcile` finds months that should have a report and have none (after downtime
  or a Redis wipe) and queues them; the nightly housekeeping runs it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.clock import month_bounds, today
from backend.db import database_of, utcnow
from backend.events import teacher_days_changed
from backend.exchange.models import Secondment
from backend.extensions import settings_of
from backend.jobs import enqueue_after_commit, job
from backend.reports import services
from backend.reports.models import HostMonthReport, ReportRun

# How far back reconciliation looks for a month with no report.
RECONCILE_MONTHS = 12
# A run queued or running for longer than this lost its worker (a tally takes seconds).
STALE_AFTER = timedelta(hours=1)


def run_key(school_id: uuid.UUID, month: date) -> str:
    return f"tally:{school_id}:{month:%Y-%m}"


def request_tally(
    session: Session, school_id: uuid.UUID, month: date, reason: str
) -> ReportRun | None:
    """Queue a tally of the host school's month, unless one is queued or running already
    (then None: that run will see today's data, since it reads when it runs)."""
    month = month.replace(day=1)
    run = ReportRun(
        id=uuid.uuid4(),
        key=run_key(school_id, month),
        kind="tally",
        school_id=school_id,
        month=month,
        reason=reason[:300],
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None  # the database says one is pending: this trigger is a duplicate
    enqueue_after_commit(session, tally_month, run_id=str(run.id))
    return run


# Host schools per month-end run: one transaction of a few set-based statements each, so
# a province (thousands of schools) is a handful of runs, none holding locks for long.
BATCH_SCHOOLS = 250


def request_month_end(
    session: Session, month: date, school_ids: list[uuid.UUID], reason: str
) -> list[ReportRun]:
    """Queue the tally of these host schools' month in runs of :data:`BATCH_SCHOOLS`.
    Each run's key names its schools (a digest of the sorted ids), so the same batch asked
    for twice — two schedulers — is queued once."""
    month = month.replace(day=1)
    runs = []
    ordered = sorted(school_ids)
    for i in range(0, len(ordered), BATCH_SCHOOLS):
        batch = ordered[i : i + BATCH_SCHOOLS]
        digest = hashlib.sha256(",".join(map(str, batch)).encode()).hexdigest()[:16]
        run = ReportRun(
            id=uuid.uuid4(),
            key=f"tally:{month:%Y-%m}:batch:{digest}",
            kind="tally",
            school_id=batch[0] if len(batch) == 1 else None,
            month=month,
            reason=reason[:300],
            result={"school_ids": [str(s) for s in batch]},
        )
        try:
            with session.begin_nested():
                session.add(run)
                session.flush()
        except IntegrityError:
            continue
        enqueue_after_commit(session, tally_schools, run_id=str(run.id))
        runs.append(run)
    return runs


def _mark_running(run_id: uuid.UUID) -> None:
    """Committed at once, in its own transaction, so admins see the run start."""
    with database_of(current_app).unit_of_work() as session:
        session.execute(
            sa.update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.status == "queued")
            .values(status="running", started_at=utcnow())
        )


@job
def tally_month(session: Session, run_id: str) -> None:
    rid = uuid.UUID(run_id)
    _mark_running(rid)  # before this job's own session has begun: no lock held yet
    run = session.get(ReportRun, rid, with_for_update=True)
    if run is None or run.status in ("done", "failed"):
        return  # a repeated delivery of a finished run
    assert run.school_id is not None and run.month is not None
    try:
        with session.begin_nested():
            report = services.tally_host_month(session, run.school_id, run.month, run.reason)
    except Exception as exc:  # recorded for admins; the run can be requested again
        run.status, run.error, run.finished_at = "failed", str(exc)[:2000], utcnow()
        return
    run.status, run.finished_at = "done", utcnow()
    run.result = (
        {}
        if report is None
        else {
            "report_id": str(report.id),
            "version": report.version,
            "status": report.status,
            "content_hash": report.content_hash,
        }
    )


@job
def tally_schools(session: Session, run_id: str) -> None:
    """A month-end batch: many host schools' month in one unit of work (see
    :func:`request_month_end`)."""
    rid = uuid.UUID(run_id)
    _mark_running(rid)
    run = session.get(ReportRun, rid, with_for_update=True)
    if run is None or run.status in ("done", "failed"):
        return
    assert run.month is not None
    schools = [uuid.UUID(s) for s in run.result.get("school_ids", [])]
    try:
        with session.begin_nested():
            issued = services.tally_month(session, run.month, run.reason, schools)
    except Exception as exc:  # recorded for admins; reconciliation asks again
        run.status, run.error, run.finished_at = "failed", str(exc)[:2000], utcnow()
        return
    run.status, run.finished_at = "done", utcnow()
    run.result = {
        "school_ids": [str(s) for s in schools],
        "reports": {
            str(school): {
                "report_id": str(r.id),
                "version": r.version,
                "content_hash": r.content_hash,
            }
            for school, r in sorted(issued.items())
        },
    }


def months_due(day: date, tally_day: int) -> list[date]:
    """Months whose reports are due by ``day``: each month over, from the one before last
    (or last month, once ``tally_day`` of this month has come), ``RECONCILE_MONTHS`` back."""
    this_month = day.replace(day=1)
    last = (this_month - timedelta(days=1)).replace(day=1)
    newest = last if day.day >= tally_day else (last - timedelta(days=1)).replace(day=1)
    months = [newest]
    while len(months) < RECONCILE_MONTHS:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months


def abandon_stale_runs(session: Session) -> int:
    """Runs still queued or running long after they started: their worker died (a killed
    process, a Redis wiped with the queue in it). Marked failed, so the key is free again
    and the month can be requested anew (its work is deterministic: redoing it is safe)."""
    stale = session.scalars(
        sa.select(ReportRun)
        .where(
            ReportRun.status.in_(("queued", "running")),
            ReportRun.updated_at < utcnow() - STALE_AFTER,
        )
        .with_for_update()
    ).all()
    for run in stale:
        run.error = f"abandoned: still {run.status} after {STALE_AFTER} (worker or queue lost)"
        run.status, run.finished_at = "failed", utcnow()
    session.flush()
    return len(stale)


@job
def reconcile(session: Session) -> None:
    """Free the keys of abandoned runs, then queue a tally for every host school month
    that is due and has no report."""
    abandon_stale_runs(session)
    for month in months_due(today(), settings_of(current_app).report_tally_day):
        first, last = month_bounds(month)
        hosts = set(
            session.scalars(
                sa.select(Secondment.host_school_id).where(
                    Secondment.status == "active",
                    Secondment.deleted_at.is_(None),
                    Secondment.start_on <= last,
                    Secondment.end_on >= first,
                )
            )
        )
        reported = set(
            session.scalars(
                sa.select(HostMonthReport.school_id).where(
                    HostMonthReport.month == first, HostMonthReport.is_current.is_(True)
                )
            )
        )
        missing = sorted(hosts - reported)
        if missing:
            request_month_end(session, first, missing, "month end")


@teacher_days_changed.connect
def _on_days_changed(session: Session, days: set[tuple[uuid.UUID, date]], cause: str) -> None:
    """Late data: a stored day of an already tallied month changed, so re-tally the month
    (a confirmed one is re-issued as an amendment if its rows change)."""
    for school_id, month in sorted({(school, day.replace(day=1)) for school, day in days}):
        tallied = session.scalar(
            sa.select(
                sa.exists().where(
                    HostMonthReport.school_id == school_id,
                    HostMonthReport.month == month,
                    HostMonthReport.is_current.is_(True),
                )
            )
        )
        if tallied:
            request_tally(session, school_id, month, f"late data: {cause}")
