"""The API killed with SIGKILL (master and workers) while phones push: every push that was
acknowledged (200) is stored, all of its records exactly once; the phones then push again
what got no answer, and that stores each record once more at most (no duplicates)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from backend.attendance.models import CheckIn
from backend.db import database_of
from sync.models import QuarantinedRecord
from tests.faults.conftest import needs_postgres
from tests.faults.procs import Processes, free_port, start_gunicorn, wait_until
from tests.faults.support import (
    HttpPhone,
    build_world,
    check_ins,
    child_env,
    migrated_app,
    service_env,
)

pytestmark = [needs_postgres]

PHONES = 6
RECORDS_PER_PUSH = 5
ACKED_BEFORE_KILL = 15


class Pushes:
    """Each phone's pushes, in order: (records, response body or None if unanswered)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[int, list[dict[str, Any]], dict[str, Any] | None]] = []
        self.refused: list[tuple[int, bytes]] = []  # answers other than 200: none expected

    def add(self, phone: int, records: list[dict[str, Any]], body: dict[str, Any] | None) -> None:
        with self.lock:
            self.log.append((phone, records, body))

    def acknowledged(self) -> list[tuple[int, list[dict[str, Any]], dict[str, Any]]]:
        with self.lock:
            return [(p, r, b) for p, r, b in self.log if b is not None]

    def unanswered(self) -> list[tuple[int, list[dict[str, Any]]]]:
        with self.lock:
            return [(p, r) for p, r, b in self.log if b is None]


def test_every_acknowledged_push_survives_a_killed_api(
    database_url: str, processes: Processes, tmp_path: Path
) -> None:
    service = service_env(tmp_path / "instance", database_url)
    with migrated_app(service) as app:
        world = build_world(app, teachers=PHONES)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = start_gunicorn(processes, child_env(service), port)
        phones = [HttpPhone(base, identity) for identity in world.phones]
        for phone in phones:
            assert phone.pull().status == 200
        pushes = Pushes()

        def push_until_cut_off(index: int, phone: HttpPhone) -> None:
            n = 0
            while True:
                records = check_ins(f"k{index}n{n:04d}r", RECORDS_PER_PUSH)
                try:
                    reply = phone.push(records, timeout=20)
                except OSError:  # the server died under this request, or before it
                    pushes.add(index, records, None)
                    return
                if reply.status != 200:
                    pushes.refused.append((reply.status, reply.body))
                    return
                pushes.add(index, records, reply.json())
                n += 1

        threads = [
            threading.Thread(target=push_until_cut_off, args=(i, phone), daemon=True)
            for i, phone in enumerate(phones)
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(pushes.acknowledged()) >= ACKED_BEFORE_KILL, "pushes")
        api.kill()  # SIGKILL, master and workers at once: no clean shutdown of anything
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads)

        assert not pushes.refused
        acked = pushes.acknowledged()
        unanswered = pushes.unanswered()
        assert len(unanswered) == PHONES  # each phone's last push got no answer
        for _, records, body in acked:
            assert (body["applied"], body["quarantined"]) == (len(records), 0), body

        # Restarted (same port: phones keep their server's address).
        start_gunicorn(processes, child_env(service), port, name="api-restarted")
        database = database_of(app)
        acked_ids = {r["id"] for _, records, _ in acked for r in records}
        with database.unit_of_work() as session:
            stored = dict(
                session.execute(
                    sa.select(CheckIn.id, CheckIn.teacher_id).where(CheckIn.id.in_(acked_ids))
                ).all()
            )
        teacher_of = {i: phone.identity.teacher_id for i, phone in enumerate(phones)}
        expected = {r["id"]: teacher_of[p] for p, records, _ in acked for r in records}
        assert stored == expected  # every acknowledged record, as its phone's teacher's

        # The phones push again what got no answer: stored once, whether or not the dead
        # server had committed it before it died.
        committed_unanswered = 0
        for index, records in unanswered:
            phone = phones[index]
            assert phone.pull().status == 200
            reply = phone.push(records)
            assert reply.status == 200, reply.body
            body = reply.json()
            assert body["applied"] + body["unchanged"] == len(records), body
            assert body["quarantined"] == 0, body
            committed_unanswered += body["unchanged"]
        # And again, as a phone whose second answer was lost too: nothing more is stored.
        index, records = unanswered[0]
        assert phones[index].push(records).json()["unchanged"] == len(records)

        every_id = acked_ids | {r["id"] for _, records in unanswered for r in records}
        with database.unit_of_work() as session:
            count = session.scalar(sa.select(sa.func.count()).select_from(CheckIn))
            ids = set(session.scalars(sa.select(CheckIn.id)))
            quarantined = session.scalar(sa.select(sa.func.count()).select_from(QuarantinedRecord))
        assert (count, ids) == (len(every_id), every_id)  # each record once, none lost
        assert quarantined == 0
        print(f"{len(acked)} pushes acknowledged; {committed_unanswered} records of unanswered")
