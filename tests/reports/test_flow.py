"""The month's flow: tally → confirm → deliver → acknowledge; late data → an amendment."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from backend.attendance import calendar
from backend.attendance.views import month_view
from backend.auth.policy import Principal
from backend.clock import today
from backend.db import database_of, utcnow
from backend.reports import services
from backend.reports.jobs import months_due, request_tally
from backend.reports.models import HomeMonthReport, HostMonthReport, ReportDelivery, ReportRun
from tests.attendance.test_daybook import _ms, _push
from tests.factories import World
from tests.sync.phone import Phone, check_in

LAST_MONTH = (today().replace(day=1) - timedelta(days=1)).replace(day=1)


def _principal(world: World, persona: str) -> Principal:
    user = world.users[persona]
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        device_pk=user.id,
        teacher_id=user.teacher_id,
        school_id=user.school_id,
        region_id=user.region_id,
    )


def _home(session: Session, world: World) -> HomeMonthReport | None:
    session.expire_all()
    return session.scalars(
        sa.select(HomeMonthReport).where(
            HomeMonthReport.school_id == world.core_a.id,
            HomeMonthReport.month == LAST_MONTH,
            HomeMonthReport.is_current.is_(True),
        )
    ).one_or_none()


@pytest.fixture
def confirmed(session: Session, world: World) -> HostMonthReport:
    draft = services.tally_host_month(session, world.member_a.id, LAST_MONTH, "month end")
    assert draft is not None and draft.status == "draft" and draft.version == 1
    return services.confirm(session, draft, _principal(world, "host_admin_a"))


def test_a_month_is_tallied_confirmed_delivered_and_acknowledged(
    session: Session, world: World, confirmed: HostMonthReport
) -> None:
    (row,) = confirmed.rows
    assert row["teacher_id"] == str(world.teacher_a.id)
    assert row["home_school_id"] == str(world.core_a.id)
    assert row["workdays"] > 15 and row["absent"] == row["workdays"]  # nobody punched
    assert row["unjudged_days"] == 0  # the tally stored every day of the month first
    home = _home(session, world)
    assert home is not None and home.version == 1 and home.rows == confirmed.rows
    inbox = session.scalars(sa.select(ReportDelivery).where(ReportDelivery.report_id == home.id))
    assert [(d.channel, d.status) for d in inbox] == [("inbox", "delivered")]
    services.acknowledge(session, home, _principal(world, "school_admin_a"))
    assert home.acknowledged_at is not None


def test_the_tally_counts_as_the_teachers_month_view(
    session: Session, world: World, confirmed: HostMonthReport
) -> None:
    summary = month_view(session, _principal(world, "teacher_a"), world.teacher_a.id, LAST_MONTH)[
        "summary"
    ]
    (row,) = confirmed.rows
    assert row["workdays"] == summary["workdays"]
    assert row["days_at_work"] == summary["days_at_work"]
    assert row["absent"] == summary["absent"]


def test_a_late_punch_after_confirmation_issues_version_2_with_a_diff(
    app: Flask, session: Session, world: World, phone: Phone, confirmed: HostMonthReport
) -> None:
    day = LAST_MONTH
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    before = confirmed.rows[0]
    session.commit()
    _push(
        phone,
        check_in("rep0000000000in", captured_at=_ms(day, "07:55")),
        check_in("rep000000000out", kind="out", captured_at=_ms(day, "17:35")),
    )
    # The push queued a re-tally after its commit (in-process here, RQ in production).
    session.expire_all()
    versions = session.scalars(
        sa.select(HostMonthReport)
        .where(HostMonthReport.school_id == world.member_a.id, HostMonthReport.month == LAST_MONTH)
        .order_by(HostMonthReport.version)
    ).all()
    assert [(v.version, v.status, v.is_current) for v in versions] == [
        (1, "superseded", False),
        (2, "confirmed", True),
    ]
    v1, v2 = versions
    assert v1.rows == [before] and v1.content_hash == confirmed.content_hash  # untouched
    assert v2.amendment and v2.previous_id == v1.id
    (change,) = v2.diff
    assert change["change"] == "changed"
    assert change["fields"]["absent"] == {"before": before["absent"], "after": before["absent"] - 1}
    assert change["fields"]["present"]["after"] == before["present"] + 1
    home = _home(session, world)
    assert home is not None and home.version == 2 and home.amendment
    run = session.scalars(sa.select(ReportRun).where(ReportRun.month == LAST_MONTH)).one()
    assert run.status == "done" and run.result["version"] == 2
    assert run.reason.startswith("late data: 2 check-ins synced")


def test_an_unchanged_re_tally_issues_nothing_and_hashes_the_same(
    session: Session, world: World, confirmed: HostMonthReport
) -> None:
    again = services.tally_host_month(session, world.member_a.id, LAST_MONTH, "retry")
    assert again is not None and again.id == confirmed.id and again.version == 1


def test_a_month_not_over_cannot_be_confirmed(session: Session, world: World) -> None:
    draft = services.tally_host_month(session, world.member_a.id, today(), "early")
    assert draft is not None and draft.status == "draft"
    with pytest.raises(services.MonthNotOver):
        services.confirm(session, draft, _principal(world, "host_admin_a"))


def test_a_month_on_an_unpublished_calendar_cannot_be_confirmed(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = services.tally_host_month(session, world.member_a.id, LAST_MONTH, "month end")
    assert draft is not None
    # As if the package lacked the year's notice and no bureau had published it (what
    # January 2027 will be until a bureau publishes the State Council's notice).
    year = LAST_MONTH.year
    monkeypatch.setattr(calendar, "package_covers", lambda y: y != year)
    with pytest.raises(services.CalendarNotPublishedForMonth):
        services.confirm(session, draft, _principal(world, "host_admin_a"))
    assert draft.status == "draft"


def test_a_trigger_fired_twice_queues_one_run(session: Session, world: World) -> None:
    first = request_tally(session, world.member_a.id, LAST_MONTH, "month end")
    second = request_tally(session, world.member_a.id, LAST_MONTH, "month end again")
    assert first is not None and second is None
    runs = session.scalars(sa.select(ReportRun).where(ReportRun.school_id == world.member_a.id))
    assert [r.status for r in runs] == ["queued"]


def test_months_due_wait_for_the_tally_day() -> None:
    assert months_due(date(2026, 12, 1), 2)[0] == date(2026, 10, 1)
    assert months_due(date(2026, 12, 2), 2)[0] == date(2026, 11, 1)
    assert len(months_due(date(2026, 12, 2), 2)) == 12


def test_check_ins_keep_coming_with_redis_down_and_the_amendment_follows_its_return(
    app: Flask, session: Session, world: World, phone: Phone, confirmed: HostMonthReport
) -> None:
    import redis
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    from backend.extensions import settings_of, store_settings
    from backend.jobs import relay
    from tests.test_jobs import REDIS_URL

    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    original = settings_of(app)
    day = LAST_MONTH
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    session.commit()
    try:
        store_settings(app, original.with_(redis_url="redis://127.0.0.1:1/0"))  # Redis down
        _push(phone, check_in("redis00000000in", captured_at=_ms(day, "07:58")))
        session.expire_all()
        run = session.scalars(sa.select(ReportRun).where(ReportRun.month == LAST_MONTH)).one()
        assert run.status == "queued"  # accepted, and the re-tally waits in the outbox
        store_settings(app, original.with_(redis_url=REDIS_URL))  # Redis back
        with app.app_context():
            assert relay(app) >= 1
            queue = Queue("ucomm", connection=connection, serializer=JSONSerializer)
            SimpleWorker([queue], connection=connection, serializer=JSONSerializer).work(burst=True)
        session.expire_all()
        assert session.get(ReportRun, run.id).status == "done"  # type: ignore[union-attr]
        current = services.current_host_report(session, world.member_a.id, LAST_MONTH)
        assert current is not None and current.version == 2 and current.amendment
    finally:
        store_settings(app, original)
        connection.flushdb()


def test_abandoned_runs_free_their_key(session: Session, world: World) -> None:
    from backend.reports.jobs import STALE_AFTER, abandon_stale_runs

    run = request_tally(session, world.member_a.id, LAST_MONTH, "month end")
    assert run is not None
    run.updated_at = utcnow() - STALE_AFTER - timedelta(minutes=1)
    session.flush()
    assert abandon_stale_runs(session) == 1
    assert run.status == "failed" and run.error.startswith("abandoned: still queued")
    assert request_tally(session, world.member_a.id, LAST_MONTH, "again") is not None


def test_reconciliation_tallies_due_months_in_batches(
    app: Flask, session: Session, world: World
) -> None:
    from backend.jobs import enqueue_after_commit
    from backend.reports.jobs import reconcile

    session.commit()
    with app.app_context(), database_of(app).unit_of_work() as uow:
        enqueue_after_commit(uow, reconcile)
    session.expire_all()
    reported = set(
        session.scalars(
            sa.select(HostMonthReport.school_id).where(
                HostMonthReport.month == LAST_MONTH, HostMonthReport.is_current.is_(True)
            )
        )
    )
    assert {world.member_a.id, world.member_b.id} <= reported
    runs = session.scalars(sa.select(ReportRun).where(ReportRun.month == LAST_MONTH)).all()
    assert [r.status for r in runs] == ["done"]  # one batch for the month's host schools
    assert set(runs[0].result["reports"]) >= {str(world.member_a.id), str(world.member_b.id)}
    # Run again: the months have reports now, nothing more is queued.
    before = session.scalar(sa.select(sa.func.count()).select_from(ReportRun))
    with app.app_context(), database_of(app).unit_of_work() as uow:
        enqueue_after_commit(uow, reconcile)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(ReportRun)) == before
