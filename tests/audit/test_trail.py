"""The audit trail: what a change records, that the chain holds, and that the database
refuses to rewrite it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance.models import CheckIn
from backend.attendance.request_models import LeaveRequest
from backend.audit.chain import GENESIS, event_hash
from backend.audit.models import AuditEvent, AuditHead
from backend.audit.trail import Actor, acting_as, stored_fields
from backend.audit.verify import Anchor, day_head, verify
from backend.db import utcnow
from backend.review import ReviewEvent
from tests.factories import World, fresh
from tests.sync.phone import check_in, phone_for

LEAVE = "/api/v1/leave-requests"


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    # Leave is filed against the 2026 calendar that tests/attendance uses.
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 15))


def events(session: Session, table: str | None = None, record: str | None = None) -> list[Any]:
    stmt = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if table is not None:
        stmt = stmt.where(AuditEvent.table_name == table)
    if record is not None:
        stmt = stmt.where(AuditEvent.record_id == record)
    return fresh(session, stmt)


def head(session: Session) -> tuple[int, str]:
    row = session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    session.expire_all()
    return int(row.seq), str(row.hash)


def file_leave(client: FlaskClient, world: World, record_id: str) -> dict[str, Any]:
    response = client.post(
        LEAVE,
        json={
            "id": record_id,
            "leave_type": "personal",
            "start_on": "2026-09-28",
            "end_on": "2026-09-30",
            "reason": "回老家照顾老人",
        },
        headers=world.headers["teacher_a"],
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


# --- what is recorded -----------------------------------------------------------------------


def test_a_check_in_pushed_from_a_phone_is_recorded_with_who_and_which_device(
    client: FlaskClient, session: Session, world: World
) -> None:
    phone = phone_for(client, session, world, "teacher_a")
    phone.create("check_ins", check_in("audit-ci-1", note="早到"))
    assert phone.sync().status_code == 200

    [event] = events(session, "check_ins", "audit-ci-1")
    assert event.action == "insert" and event.before is None
    assert event.actor == "teacher_a" or event.actor == world.users["teacher_a"].username
    assert event.actor_user_id == world.users["teacher_a"].id
    assert event.actor_role == "teacher"
    assert event.device_id == phone.device_id and event.device_pk is not None
    assert event.request_id  # the request that carried it, as in the access log
    assert event.after["note"] == "早到"
    assert event.after["teacher_id"] == str(world.teacher_a.id)
    assert "server_serial" not in event.after  # bookkeeping, not the record
    assert verify(session).intact


def test_a_record_set_aside_in_a_push_leaves_no_event(
    client: FlaskClient, session: Session, world: World
) -> None:
    """A rejected record is undone with its savepoint; its note must go with it."""
    phone = phone_for(client, session, world, "teacher_a")
    phone.create("check_ins", check_in("audit-ok"))
    phone.create("check_ins", check_in("audit-bad", kind="sideways"))
    assert phone.sync().status_code == 200
    assert len(events(session, "check_ins", "audit-ok")) == 1
    assert events(session, "check_ins", "audit-bad") == []
    assert verify(session).intact


def test_an_approval_records_the_status_before_and_after_and_the_approver(
    client: FlaskClient, session: Session, world: World
) -> None:
    file_leave(client, world, "audit-leave-1")
    response = client.post(f"{LEAVE}/audit-leave-1/approve", headers=world.headers["host_admin_a"])
    assert response.status_code == 200, response.get_json()

    filed, approved = events(session, "leave_requests", "audit-leave-1")
    assert (filed.action, filed.actor_role) == ("insert", "teacher")
    assert filed.after["status"] == "pending"
    assert approved.action == "update"
    assert approved.actor_user_id == world.users["host_admin_a"].id
    assert approved.before["status"] == "pending" and approved.after["status"] == "approved"
    assert approved.seq > filed.seq
    assert verify(session).intact


def test_a_refused_request_changes_nothing_and_records_nothing(
    client: FlaskClient, session: Session, world: World
) -> None:
    file_leave(client, world, "audit-leave-2")
    before = head(session)
    # A teacher may not approve: the request is refused and its transaction rolled back.
    response = client.post(f"{LEAVE}/audit-leave-2/approve", headers=world.headers["teacher_a"])
    assert response.status_code in (403, 404)
    assert head(session) == before


def test_a_rolled_back_savepoint_takes_its_notes_with_it(session: Session, world: World) -> None:
    before = head(session)
    with acting_as(session, Actor(name="operator", role="system")):
        kept = ReviewEvent(
            record_kind="evidence",
            record_id="audit-kept",
            at=utcnow(),
            revision=1,
            action="submitted",
            actor_id=world.users["school_admin_a"].id,
            snapshot={},
        )
        session.add(kept)
        try:
            with session.begin_nested():
                session.add(
                    ReviewEvent(
                        record_kind="evidence",
                        record_id="audit-undone",
                        at=utcnow(),
                        revision=1,
                        action="submitted",
                        actor_id=world.users["school_admin_a"].id,
                        snapshot={},
                    )
                )
                session.flush()
                raise RuntimeError("undo")
        except RuntimeError:
            pass
        session.commit()
    recorded = events(session, "review_events")
    assert [e.after["record_id"] for e in recorded if e.seq > before[0]] == ["audit-kept"]
    assert recorded[-1].actor == "operator"
    assert verify(session).intact


def test_reports_are_recorded_by_their_content_hash_not_their_rows() -> None:
    from backend.reports.models import HomeMonthReport, HostMonthReport

    for model in (HostMonthReport, HomeMonthReport):
        assert {"rows", "diff"} <= model.__audit_omit__
        assert "content_hash" in model.__table__.columns


# --- the chain ------------------------------------------------------------------------------


def _some_events(client: FlaskClient, session: Session, world: World, n: int = 3) -> None:
    phone = phone_for(client, session, world, "teacher_a")
    for i in range(n):
        phone.create("check_ins", check_in(f"audit-chain-{i}"))
        assert phone.sync().status_code == 200


@pytest.fixture
def tamper(session: Session, is_postgres: bool) -> Iterator[Callable[..., None]]:
    """Run SQL against the events as someone with the database's keys would: past the
    append-only triggers (all undone with the test's transaction)."""

    def run(sql: str, **params: Any) -> None:
        if is_postgres:
            session.execute(sa.text("SET LOCAL session_replication_role = replica"))
            session.execute(sa.text(sql), params)
            session.execute(sa.text("SET LOCAL session_replication_role = origin"))
        else:
            session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
            session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
            session.execute(sa.text(sql), params)
        session.expire_all()

    yield run


def test_verify_names_the_first_changed_event(
    client: FlaskClient, session: Session, world: World, tamper: Callable[..., None]
) -> None:
    _some_events(client, session, world)
    middle = events(session, "check_ins")[-2].seq
    tamper(
        "UPDATE audit_events SET after = :after WHERE seq = :seq",
        after='{"note": "late"}',
        seq=middle,
    )
    outcome = verify(session)
    assert not outcome.intact and outcome.broken is not None
    assert outcome.broken.seq == middle and "changed" in outcome.broken.reason


def test_verify_names_a_deleted_event(
    client: FlaskClient, session: Session, world: World, tamper: Callable[..., None]
) -> None:
    _some_events(client, session, world)
    middle = events(session, "check_ins")[-2].seq
    tamper("DELETE FROM audit_events WHERE seq = :seq", seq=middle)
    outcome = verify(session)
    assert outcome.broken is not None and outcome.broken.seq == middle
    assert "missing" in outcome.broken.reason


def test_verify_notices_events_cut_off_the_end(
    client: FlaskClient, session: Session, world: World, tamper: Callable[..., None]
) -> None:
    _some_events(client, session, world)
    last = events(session)[-1].seq
    tamper("DELETE FROM audit_events WHERE seq = :seq", seq=last)
    outcome = verify(session)
    assert outcome.broken is not None and outcome.broken.seq == last
    assert "gone" in outcome.broken.reason


def test_a_rewritten_chain_is_caught_by_the_head_kept_outside(
    client: FlaskClient, session: Session, world: World, tamper: Callable[..., None]
) -> None:
    """Whoever can rewrite every hash after an edit fools the links, not an anchor."""
    _some_events(client, session, world)
    anchor_seq, anchor_hash = head(session)
    anchors = [Anchor(anchor_seq, anchor_hash)]
    assert verify(session, anchors).intact
    victim = events(session)[-1]
    forged = stored_fields({c.name: getattr(victim, c.name) for c in AuditEvent.__table__.c})
    forged["after"] = {**victim.after, "note": "forged"}
    forged["hash"] = event_hash(forged)
    tamper(
        "UPDATE audit_events SET after = :after, hash = :hash WHERE seq = :seq",
        after=json.dumps(forged["after"]),
        hash=forged["hash"],
        seq=forged["seq"],
    )
    session.execute(sa.update(AuditHead).values(hash=forged["hash"]))
    assert verify(session).intact  # the links alone cannot tell
    outcome = verify(session, anchors)
    assert outcome.broken is not None and outcome.broken.seq == forged["seq"]


def test_day_head_is_the_last_event_of_that_china_day(
    client: FlaskClient, session: Session, world: World
) -> None:
    _some_events(client, session, world, n=1)
    seq, digest = head(session)
    today = utcnow().astimezone(clock.CHINA).date()
    exported = day_head(session, today)
    assert (exported["seq"], exported["hash"]) == (seq, digest)
    assert exported["events_that_day"] >= 1
    earlier = day_head(session, date(2000, 1, 1))
    assert (earlier["seq"], earlier["hash"], earlier["events_that_day"]) == (0, GENESIS, 0)
    assert day_head(session, today + timedelta(days=1))["seq"] == seq


# --- the database refuses rewrites ---------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
    ],
)
def test_the_application_cannot_update_or_delete_events(
    client: FlaskClient, session: Session, world: World, sql: str
) -> None:
    _some_events(client, session, world, n=1)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(sa.text(sql))
    assert verify(session).intact


def test_postgres_refuses_truncate_and_grants_no_rewrite_to_anyone(
    session: Session, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("TRUNCATE and table privileges are PostgreSQL's")
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(sa.text("TRUNCATE audit_events"))
    for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
        granted = session.scalar(
            sa.text("SELECT has_table_privilege('public', 'audit_events', :p)"),
            {"p": privilege},
        )
        assert granted is False


# --- the commands ---------------------------------------------------------------------------


def test_the_commands_verify_and_export_the_head(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["audit", "verify"])
    assert checked.exit_code == 0, checked.output
    outcome = json.loads(checked.output)
    assert outcome["intact"] is True and outcome["broken_at"] is None

    today = utcnow().astimezone(clock.CHINA).date().isoformat()
    exported = runner.invoke(args=["audit", "head", "--day", today])
    assert exported.exit_code == 0, exported.output
    line = json.loads(exported.output)
    assert line["day"] == today and len(line["hash"]) == 64

    anchors = tmp_path / "heads.jsonl"
    anchors.write_text(exported.output + json.dumps({"seq": line["seq"], "hash": "0" * 63 + "1"}))
    if line["seq"]:
        forged = runner.invoke(args=["audit", "verify", "--anchors", str(anchors)])
        assert forged.exit_code == 1 and json.loads(forged.output)["broken_at"] == line["seq"]
    anchors.write_text("not json\n")
    bad = runner.invoke(args=["audit", "verify", "--anchors", str(anchors)])
    assert bad.exit_code != 0 and "not a head line" in bad.output


def test_leave_rows_exist_for_the_recorded_ids(
    client: FlaskClient, session: Session, world: World
) -> None:
    """The record id in an event is the row's primary key, as the API names it."""
    file_leave(client, world, "audit-leave-3")
    [event] = events(session, "leave_requests", "audit-leave-3")
    assert fresh(session, sa.select(LeaveRequest.id).where(LeaveRequest.id == event.record_id))
    phone = phone_for(client, session, world, "teacher_a")
    phone.create("check_ins", check_in("audit-ci-id"))
    assert phone.sync().status_code == 200
    [ci] = events(session, "check_ins", "audit-ci-id")
    assert fresh(session, sa.select(CheckIn.id).where(CheckIn.id == ci.record_id))


# --- concurrent appenders -------------------------------------------------------------------


def test_concurrent_transactions_append_one_unbroken_chain(is_postgres: bool) -> None:
    """Appenders on separate connections queue on the head: numbered in commit order, no
    gaps, no forks, whatever the interleaving."""
    if not is_postgres:
        pytest.skip("SQLite has one writer at a time by construction")
    import os
    import threading

    from backend.audit.trail import _Note, append
    from backend.cli import upgrade_database
    from tests.conftest import _drop_postgres, _fresh_postgres

    url = _fresh_postgres(os.environ["TEST_DATABASE_URL"], purpose="audit_race")
    engine = sa.create_engine(url, pool_size=8)
    try:
        with engine.begin() as connection:
            upgrade_database(connection)
        failures: list[BaseException] = []

        def appender(worker: int) -> None:
            try:
                for i in range(15):
                    with Session(engine) as s, s.begin():
                        transaction = s.get_transaction()
                        assert transaction is not None
                        actor = Actor(name=f"w{worker}", role="system")
                        notes = [
                            _Note(
                                "race",
                                f"{worker}-{i}-{k}",
                                "insert",
                                None,
                                {"k": k},
                                actor,
                                transaction,
                            )
                            for k in range(3)
                        ]
                        append(s.connection(), notes)
            except BaseException as exc:  # reported to the test thread below
                failures.append(exc)

        threads = [threading.Thread(target=appender, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        with Session(engine) as s:
            outcome = verify(s)
            assert outcome.intact, outcome.broken
            assert outcome.events == 6 * 15 * 3 == outcome.last_seq
            ids = s.scalars(sa.select(AuditEvent.record_id)).all()
            assert len(set(ids)) == len(ids) == 270
    finally:
        engine.dispose()
        _drop_postgres(url)
