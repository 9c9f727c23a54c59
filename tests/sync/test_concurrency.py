"""Real commits and real concurrency (a live server on its own database)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from backend.attendance.models import CheckIn
from backend.attendance.services import Receipt, record_check_in
from backend.auth.models import Device
from backend.db import database_of, journal_serial, utcnow
from tests.live import LiveServer
from tests.sync.phone import check_in


def _device_id(live: LiveServer, user_id: object) -> str:
    with database_of(live.app).unit_of_work() as session:
        return session.scalars(sa.select(Device.device_id).where(Device.user_id == user_id)).one()


def _request(
    live: LiveServer, method: str, path: str, headers: dict[str, str], body: object = None
) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        live.base_url + path,
        data=data,
        method=method,
        headers={**headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_ten_concurrent_replays_of_one_push_store_one_record(live: LiveServer) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    status, pulled = _request(
        live, "GET", "/api/v1/sync?last_pulled_at=null&schema_version=1", headers
    )
    assert status == 200
    push_headers = {
        **headers,
        "X-Device-Id": _device_id(live, world.users["teacher_a"].id),
        "X-Device-Time": str(int(time.time() * 1000)),
    }
    record_id = f"replay{world.teacher_a.id.hex[:10]}"
    body = {"check_ins": {"created": [check_in(record_id)], "updated": [], "deleted": []}}
    path = f"/api/v1/sync?last_pulled_at={pulled['timestamp']}&schema_version=1"

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(lambda _: _request(live, "POST", path, push_headers, body), range(10))
        )

    assert [status for status, _ in results] == [200] * 10, results
    assert sum(int(r["applied"]) for _, r in results) == 1  # type: ignore[call-overload]
    assert sum(int(r["unchanged"]) for _, r in results) == 9  # type: ignore[call-overload]
    with database_of(live.app).unit_of_work() as session:
        assert session.scalar(sa.select(sa.func.count()).where(CheckIn.id == record_id)) == 1


def test_a_pull_never_skips_a_change_that_commits_late(live: LiveServer) -> None:
    """T1 takes its serial first and commits last; T2 starts later. With a plain sequence
    T2 could commit a higher number first and a pull in between would move its cursor past
    T1's row for ever. The journal makes T2 wait for T1, so numbers follow commit order."""
    world = live.world()
    database = database_of(live.app)
    teacher = world.teacher_a.id
    receipt = Receipt(utcnow(), None, None, None, None, None)
    client = live.app.test_client()
    headers = world.headers["teacher_a"]
    cursor = client.get(
        "/api/v1/sync?last_pulled_at=null&schema_version=1", headers=headers
    ).get_json()["timestamp"]

    def write(session: sa.orm.Session, record_id: str) -> None:
        values = {k: v for k, v in check_in(record_id).items() if k != "id"}
        record_check_in(
            session,
            record_id=record_id,
            teacher_id=teacher,
            values=values,
            digest="x",
            receipt=receipt,
        )
        session.flush()

    t1 = database.new_session()
    t1_serial = journal_serial(t1)
    write(t1, f"late{teacher.hex[:12]}")
    t2_committed = threading.Event()
    t2_serial: list[int] = []

    def second_transaction() -> None:
        with database.unit_of_work() as t2:
            t2_serial.append(journal_serial(t2))
            write(t2, f"early{teacher.hex[:11]}")
        t2_committed.set()

    thread = threading.Thread(target=second_transaction)
    thread.start()
    # T2 cannot commit while T1 holds the journal: it waits instead of overtaking.
    assert not t2_committed.wait(timeout=1.0)
    if not live.settings.is_sqlite:  # (SQLite's single writer lock also holds readers' writes)
        middle = client.get(
            f"/api/v1/sync?last_pulled_at={cursor}&schema_version=1", headers=headers
        ).get_json()
        assert middle["timestamp"] < t1_serial and middle["changes"]["check_ins"]["updated"] == []
    t1.commit()
    t1.close()
    thread.join(timeout=30)
    assert t2_committed.is_set() and t2_serial[0] > t1_serial

    after = client.get(
        f"/api/v1/sync?last_pulled_at={cursor}&schema_version=1", headers=headers
    ).get_json()
    ids = {r["id"] for r in after["changes"]["check_ins"]["updated"]}
    assert ids == {f"late{teacher.hex[:12]}", f"early{teacher.hex[:11]}"}
