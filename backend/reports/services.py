"""The month's flow: tally → confirm → assemble and deliver → acknowledge, and re-issue on
late data.

1. A host school's month is tallied into a **draft** (re-tallying a draft replaces it).
2. Its admin **confirms** it — only once the month is over and its calendar published.
3. Confirmed rows are assembled into each home school's report, which is **delivered**
   (an inbox entry; a webhook where one is configured) and **acknowledged** by its admin.
4. **Late data** (a day of a confirmed month recomputed: a punch synced late, a
   correction approved, a leave cancelled) re-tallies the month. If any row changed, a new
   confirmed version is issued as an *amendment*, with a per-teacher diff against the
   previous version, and the home schools concerned get a new version of theirs. Earlier
   versions are never touched: only their ``is_current`` flag drops.

Everything here is deterministic: the same stored days give the same rows and hash, so a
retried job re-issues nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer

from backend.attendance import daybook
from backend.attendance.calendar import is_published
from backend.auth.policy import Principal
from backend.clock import month_bounds, today
from backend.db import utcnow
from backend.errors import Conflict, DomainError
from backend.org.models import School
from backend.reports import tally as t
from backend.reports import webhooks
from backend.reports.models import HomeMonthReport, HostMonthReport, ReportDelivery

RULE = "003 §四(三)4"


class MonthNotOver(DomainError):
    status = 422
    code = "month_not_over"


class CalendarNotPublishedForMonth(DomainError):
    status = 422
    code = "calendar_not_published"


def current_host_report(
    session: Session, school_id: uuid.UUID, month: date
) -> HostMonthReport | None:
    return session.scalars(
        sa.select(HostMonthReport)
        .where(
            HostMonthReport.school_id == school_id,
            HostMonthReport.month == month,
            HostMonthReport.is_current.is_(True),
        )
        .with_for_update()
    ).one_or_none()


def _complete_days(session: Session, school_id: uuid.UUID, month: date) -> None:
    """Store any day of the month not stored yet (the nightly close normally has)."""
    _, last = month_bounds(month)
    through = min(last, today() - timedelta(days=1))
    for teacher_id, days in t.missing_days(session, school_id, month).items():
        wanted = [d for d in days if d <= through]
        if wanted:
            daybook.recompute(session, teacher_id, wanted, "month tallied")


def tally_host_month(
    session: Session, school_id: uuid.UUID, month: date, reason: str
) -> HostMonthReport | None:
    """Tally the host school's month (see the module docstring); None when nobody was
    seconded there that month."""
    return tally_month(session, month, reason, [school_id]).get(school_id)


def tally_month(
    session: Session,
    month: date,
    reason: str,
    school_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, HostMonthReport]:
    """Tally many host schools' month in one go (all with secondments that month when
    ``school_ids`` is None): a few set-based statements, then one report per school."""
    month = month.replace(day=1)
    by_school = t.tally_schools(session, month, school_ids)
    unjudged = sorted(
        school for school, rows in by_school.items() if any(r["unjudged_days"] for r in rows)
    )
    if unjudged:  # days the nightly close has not stored yet: store them, tally again
        for school_id in unjudged:
            _complete_days(session, school_id, month)
        by_school.update(t.tally_schools(session, month, unjudged))
    wanted = sorted(set(by_school) | set(school_ids or ()))
    currents = {
        r.school_id: r
        for r in session.scalars(
            sa.select(HostMonthReport)
            .where(
                HostMonthReport.school_id.in_(wanted),
                HostMonthReport.month == month,
                HostMonthReport.is_current.is_(True),
            )
            # The hash decides; rows are read only for the diff of an amendment.
            .options(defer(HostMonthReport.rows), defer(HostMonthReport.diff))
            .with_for_update()
        )
    }
    now = utcnow()
    issued: dict[uuid.UUID, HostMonthReport] = {}
    for school_id in wanted:
        report = _issue(
            session,
            school_id,
            month,
            by_school.get(school_id, []),
            currents.get(school_id),
            reason,
            now,
        )
        if report is not None:
            issued[school_id] = report
    session.flush()
    return issued


def _issue(
    session: Session,
    school_id: uuid.UUID,
    month: date,
    rows: list[dict[str, Any]],
    current: HostMonthReport | None,
    reason: str,
    now: datetime,
) -> HostMonthReport | None:
    """The school's report for these rows: the current one if unchanged, the draft
    updated, or a new version (an amendment of a confirmed one)."""
    if not rows and current is None:
        return None
    digest = t.content_hash(rows)
    if current is not None and current.content_hash == digest:
        return current  # nothing changed: a retried or duplicate run re-issues nothing
    if current is not None and current.status == "draft":
        current.rows, current.content_hash, current.tallied_at = rows, digest, now
        current.reason = reason[:300]
        return current
    report = HostMonthReport(
        id=uuid.uuid4(),
        school_id=school_id,
        month=month,
        version=1 if current is None else current.version + 1,
        rows=rows,
        content_hash=digest,
        tallied_at=now,
        reason=reason[:300],
    )
    if current is not None:
        # A confirmed month changed: the amendment is issued confirmed (the late data was
        # evidence or was itself approved by the host school), with what changed.
        current.is_current = False
        current.status = "superseded"
        session.flush()  # the old version stops being current before the new one is
        report.previous_id = current.id
        report.amendment = True
        report.diff = t.diff(current.rows, rows)
        report.status = "confirmed"
        report.confirmed_at = now
    session.add(report)
    if report.status == "confirmed":
        session.flush()
        assemble_for_rows(session, month, rows, current.rows if current else [], reason)
    return report


def confirm(session: Session, report: HostMonthReport, principal: Principal) -> HostMonthReport:
    if not report.is_current or report.status != "draft":
        raise Conflict(f"only the current draft can be confirmed (this is {report.status})")
    _, last = month_bounds(report.month)
    if last >= today():
        raise MonthNotOver(f"{report.month:%Y-%m} is not over yet", rule=RULE)
    school = session.get(School, report.school_id)
    assert school is not None
    if not is_published(session, school.region_id, report.month.year) or any(
        r["unpublished_days"] for r in report.rows
    ):
        raise CalendarNotPublishedForMonth(
            f"the {report.month.year} holiday calendar is not published: a month is confirmed"
            " on a published calendar only",
            rule=RULE,
        )
    report.status = "confirmed"
    report.confirmed_by_id = principal.user_id
    report.confirmed_at = utcnow()
    session.flush()
    assemble_for_rows(session, report.month, report.rows, [], "host month confirmed")
    return report


def assemble_for_rows(
    session: Session,
    month: date,
    rows: list[dict[str, Any]],
    previous: list[dict[str, Any]],
    reason: str,
) -> None:
    homes = {uuid.UUID(r["home_school_id"]) for r in [*rows, *previous]}
    for home_id in sorted(homes):
        assemble_home_month(session, home_id, month, reason)


def _confirmed_rows_for_home(
    session: Session, home_id: uuid.UUID, month: date
) -> list[dict[str, Any]]:
    reports = session.scalars(
        sa.select(HostMonthReport).where(
            HostMonthReport.month == month,
            HostMonthReport.is_current.is_(True),
            HostMonthReport.status == "confirmed",
        )
    )
    wanted = str(home_id)
    rows = [r for report in reports for r in report.rows if r["home_school_id"] == wanted]
    return sorted(rows, key=lambda r: (r["staff_no"], r["teacher_id"], r["host_school_id"]))


def assemble_home_month(
    session: Session, home_id: uuid.UUID, month: date, reason: str
) -> HomeMonthReport | None:
    """Gather the home school's teachers' confirmed rows; deliver a new version if changed."""
    rows = _confirmed_rows_for_home(session, home_id, month)
    current = session.scalars(
        sa.select(HomeMonthReport)
        .where(
            HomeMonthReport.school_id == home_id,
            HomeMonthReport.month == month,
            HomeMonthReport.is_current.is_(True),
        )
        .with_for_update()
    ).one_or_none()
    digest = t.content_hash(rows)
    if (current is None and not rows) or (current is not None and current.content_hash == digest):
        return current
    now = utcnow()
    report = HomeMonthReport(
        id=uuid.uuid4(),
        school_id=home_id,
        month=month,
        version=1 if current is None else current.version + 1,
        rows=rows,
        content_hash=digest,
        delivered_at=now,
    )
    if current is not None:
        current.is_current = False
        session.flush()
        report.previous_id = current.id
        report.amendment = True
        report.diff = t.diff(current.rows, rows)
    session.add(report)
    session.flush()
    # The inbox is the database: the entry is there once this commits.
    session.add(
        ReportDelivery(report_id=report.id, channel="inbox", status="delivered", delivered_at=now)
    )
    session.flush()
    webhooks.queue_delivery(session, report)
    return report


def acknowledge(session: Session, report: HomeMonthReport, principal: Principal) -> HomeMonthReport:
    if report.acknowledged_at is not None:
        raise Conflict("this version was already acknowledged")
    report.acknowledged_by_id = principal.user_id
    report.acknowledged_at = utcnow()
    session.flush()
    return report
