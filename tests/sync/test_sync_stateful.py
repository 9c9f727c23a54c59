"""Several phones edit offline and sync through a faulty network, with server restarts.

Hypothesis drives three phones — two of one teacher, one of another — through creates,
edits, deletes and syncs whose requests or responses get lost, duplicated or delayed and
delivered out of order, while the server is restarted now and then. At the end the
network heals and every phone syncs. Then the server must hold exactly the records the
phones meant — none twice, none lost — and every phone must hold what the server holds.

A record is only ever edited or deleted by the phone that created it, so "what the phones
meant" is that phone's latest local state (the other phone of the same teacher follows).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, Phase
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.attendance.models import CheckIn
from backend.auth.models import Device
from backend.auth.tokens import issue_access_token
from backend.config import Settings
from backend.db import database_of
from backend.extensions import settings_of
from sync import services as sync_services
from sync.models import QuarantinedRecord
from tests import factories
from tests.sync.phone import Phone, check_in

MAX_RESTARTS = 3
FAULTS = ("none", "none", "lose_request", "lose_response", "duplicate", "delay")


@dataclass(frozen=True)
class Request:
    """A push as it left the phone: frozen, so a delayed copy can arrive much later."""

    url: str
    body: str
    headers: dict[str, str]


class Server:
    """The service, restartable: a restart is a new app process on the same database."""

    def __init__(self, settings: Settings, connection: sa.Connection) -> None:
        self.settings = settings
        self.connection = connection
        self.restarts = 0
        self.app = self._boot()

    def _boot(self) -> Flask:
        app = create_app(self.settings)
        database_of(app).bind_sessions(
            bind=self.connection, join_transaction_mode="create_savepoint"
        )
        return app

    def restart(self) -> None:
        database_of(self.app).engine.dispose()
        self.app = self._boot()
        self.restarts += 1

    def send(self, request: Request) -> tuple[int, dict[str, Any]]:
        response = self.app.test_client().post(
            request.url, data=request.body, content_type="application/json", headers=request.headers
        )
        return response.status_code, response.get_json()


def make_machine(app: Flask, settings: Settings, session: Session) -> type[RuleBasedStateMachine]:
    connection = session.connection()

    class SyncMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.server = Server(settings, connection)
            world = factories.world(session, app)
            self.prefix = uuid.uuid4().hex[:6]
            self.phones: dict[str, Phone] = {}
            self.teacher_of: dict[str, uuid.UUID] = {}
            for name, persona, teacher in (
                ("a1", "teacher_a", world.teacher_a),
                ("a2", "teacher_a", world.teacher_a),
                ("b1", "teacher_b", world.teacher_b),
            ):
                device = Device(user_id=world.users[persona].id, device_id=f"{name}-{self.prefix}")
                session.add(device)
                session.flush()
                token = issue_access_token(settings_of(app), device.user_id, device.id)
                self.phones[name] = Phone(
                    self.server.app.test_client(),
                    {"Authorization": f"Bearer {token}"},
                    device.device_id,
                )
                self.teacher_of[name] = teacher.id
            session.commit()
            self.owner: dict[str, str] = {}  # record id -> the phone that created it
            self.meant: dict[str, str | None] = {}  # record id -> note, or None if deleted
            self.delayed: list[Request] = []
            self.counter = 0

        # --- what people do on their phones ----------------------------------------------
        @rule(phone=st.sampled_from(["a1", "a2", "b1"]), note=st.sampled_from(["", "迟到", "下乡"]))
        def create(self, phone: str, note: str) -> None:
            self.counter += 1
            record_id = f"{self.prefix}{self.counter:010d}"
            self.phones[phone].create("check_ins", check_in(record_id, note=note))
            self.owner[record_id] = phone
            self.meant[record_id] = note

        def _editable(self) -> list[str]:
            return sorted(
                record_id
                for record_id, phone in self.owner.items()
                if self.meant[record_id] is not None
                and record_id in self.phones[phone].table("check_ins")
            )

        @precondition(lambda self: bool(self._editable()))
        @rule(data=st.data())
        def edit(self, data: st.DataObject) -> None:
            record_id = data.draw(st.sampled_from(self._editable()))
            note = f"note {self.counter}-{data.draw(st.integers(0, 9))}"
            self.phones[self.owner[record_id]].update("check_ins", record_id, note=note)
            self.meant[record_id] = note

        @precondition(lambda self: bool(self._editable()))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            record_id = data.draw(st.sampled_from(self._editable()))
            self.phones[self.owner[record_id]].delete("check_ins", record_id)
            self.meant[record_id] = None

        # --- the network and the server ----------------------------------------------------
        @rule(
            phone=st.sampled_from(["a1", "a2", "b1"]),
            fault=st.sampled_from(FAULTS),
            lose_pull=st.booleans(),
        )
        def sync(self, phone: str, fault: str, lose_pull: bool) -> None:
            self._sync(self.phones[phone], fault, lose_pull)

        def _sync(self, phone: Phone, fault: str, lose_pull: bool) -> None:
            pulled = phone.pull_request()
            assert pulled.status_code == 200, pulled.json
            if lose_pull:
                return  # the server answered; the phone never heard it
            phone.apply_pull(pulled.get_json())
            changes = phone.pending_changes()
            if not changes:
                return
            request = Request(
                f"/api/v1/sync?last_pulled_at={phone.last_pulled_at}&schema_version=1",
                json.dumps(changes),
                {
                    **phone.headers,
                    "X-Device-Id": phone.device_id,
                    "X-Device-Time": str(int(time.time() * 1000)),
                },
            )
            if fault == "lose_request":
                return
            if fault == "delay":
                self.delayed.append(request)
                return
            status, body = self.server.send(request)
            if fault == "duplicate":
                status, body = self.server.send(request)
            assert status in (200, 409), body
            if fault != "lose_response" and status == 200:
                phone.mark_synced(changes)

        @precondition(lambda self: bool(self.delayed))
        @rule(data=st.data())
        def deliver_late(self, data: st.DataObject) -> None:
            request = self.delayed.pop(data.draw(st.integers(0, len(self.delayed) - 1)))
            status, body = self.server.send(request)
            assert status in (200, 409), body  # a stale copy may conflict, never break

        # A restart is a whole app boot (~0.2 s, most of it building the OpenAPI document):
        # a few per run show that nothing lives in the process, without booting hundreds.
        @precondition(lambda self: self.server.restarts < MAX_RESTARTS)
        @rule()
        def restart_server(self) -> None:
            self.server.restart()
            for phone in self.phones.values():
                phone.client = self.server.app.test_client()

        # --- what must always hold -------------------------------------------------------
        def _server_records(self) -> dict[str, CheckIn]:
            session.expire_all()
            rows = session.scalars(
                sa.select(CheckIn).where(CheckIn.id.startswith(self.prefix))
            ).all()
            return {row.id: row for row in rows}

        @invariant()
        def server_holds_only_meant_records(self) -> None:
            for record_id, row in self._server_records().items():
                assert record_id in self.meant, f"{record_id} was never created by a phone"
                assert row.teacher_id == self.teacher_of[self.owner[record_id]]

        def teardown(self) -> None:
            for request in self.delayed:
                self.server.send(request)
            for _ in range(3):  # the network heals: everyone syncs until nothing is pending
                for phone in self.phones.values():
                    self._sync(phone, "none", False)
            for phone in self.phones.values():
                self._sync(phone, "none", False)
                assert phone.pending_changes() == {}, "a phone could not get its changes in"
            stored = self._server_records()
            live = {i: r.note for i, r in stored.items() if r.deleted_at is None}
            meant_live = {i: note for i, note in self.meant.items() if note is not None}
            assert live == meant_live  # none lost, none extra, every edit's last state
            for name, phone in self.phones.items():
                mine = {
                    i: r.values["note"]
                    for i, r in phone.table("check_ins").items()
                    if i.startswith(self.prefix)
                }
                expected = {
                    i: note
                    for i, note in live.items()
                    if stored[i].teacher_id == self.teacher_of[name]
                }
                assert mine == expected, f"phone {name} did not converge"
            assert not session.scalars(
                sa.select(QuarantinedRecord).where(
                    QuarantinedRecord.record_id.startswith(self.prefix)
                )
            ).all(), "a valid record was quarantined"

    return SyncMachine


STATEFUL = run_settings(
    # The machine is the same on both databases; PostgreSQL's pass (concurrent sessions,
    # real row locks) gets the most examples, SQLite's a smaller share of the CI budget.
    max_examples=15 if os.environ.get("TEST_DATABASE_URL") else 8,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_phones_and_server_converge_through_a_faulty_network(
    app: Flask, settings: Settings, session: Session
) -> None:
    run_state_machine_as_test(make_machine(app, settings, session), settings=STATEFUL)


def test_the_machine_catches_a_server_that_is_not_idempotent(
    app: Flask, settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proof the test has teeth: a server that stores a re-pushed "created" record as a new
    row (ignoring that the client id is already known) must be caught."""
    original = sync_services._push_table

    def not_idempotent(sess: Session, principal: Any, table: Any, changes: Any, *rest: Any) -> None:
        known = {
            str(i)
            for i in sess.scalars(
                sa.select(CheckIn.id).where(CheckIn.id.in_([r["id"] for r in changes.created]))
            )
        }
        changes.created = [
            {**r, "id": f"{r['id']}x{uuid.uuid4().hex[:4]}"} if r["id"] in known else r
            for r in changes.created
        ]
        original(sess, principal, table, changes, *rest)

    monkeypatch.setattr(sync_services, "_push_table", not_idempotent)
    # Finding the failure is enough; shrinking it would only cost time.
    broken = run_settings(STATEFUL, phases=[Phase.generate])
    with pytest.raises(AssertionError):
        run_state_machine_as_test(make_machine(app, settings, session), settings=broken)
