"""The real WatermelonDB client against a live server.

``tests/e2e/wm_sync.js`` runs ``@nozbe/watermelondb`` (pinned in tests/e2e/package.json)
with its LokiJS adapter, in memory, under plain Node, and calls the library's own
``synchronize()`` against the served app. A phone that keeps its state across steps is one
Node process driven over stdin/stdout, one JSON line per command. Every test asserts on
what the client reports and on what the server's database holds.

Nothing here is skipped: without ``node`` or ``tests/e2e/node_modules`` the tests fail and
say how to install the client (``npm ci --prefix tests/e2e``; ``.ci/run`` does it).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest
import sqlalchemy as sa

from backend.attendance.models import CheckIn
from backend.attendance.services import flag
from backend.auth.models import Device
from backend.auth.tokens import issue_access_token
from backend.db import database_of
from sync.models import SyncPush
from sync.protocol import SCHEMA_VERSION_MAX
from sync.tables import REGISTRY
from tests.factories import World
from tests.live import LiveServer
from tests.node_clients import E2E, node_with

SCRIPT = E2E / "wm_sync.js"
PACKAGE = "@nozbe/watermelondb"
BOOT_ID = "wm-e2e-boot-1"  # the script's X-Device-Boot
TIMEOUT = 15.0  # seconds: bound of every wait on the Node process

Json = dict[str, Any]


def _node() -> str:
    return node_with(PACKAGE)


def _env(live: LiveServer, headers: dict[str, str], device_id: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "WM_BASE_URL": live.base_url,
        "WM_TOKEN": headers["Authorization"].removeprefix("Bearer "),
        "WM_DEVICE_ID": device_id,
        "WM_TIMEOUT_MS": str(int(TIMEOUT * 1000)),
        **extra,
    }


def _run_once(scenario: str, env: dict[str, str] | None = None) -> tuple[int, Json, str]:
    """One Node run that prints one JSON line: (exit code, that line, stderr)."""
    done = subprocess.run(
        [_node(), str(SCRIPT), scenario],
        cwd=E2E,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line, got {done.stdout!r}; stderr: {done.stderr}"
    result: Json = json.loads(lines[0])
    return done.returncode, result, done.stderr


class NodePhone:
    """One WatermelonDB database in one Node process, driven a command at a time."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        assert process.stdout is not None and process.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(process.stdout,), daemon=True),
            threading.Thread(target=self._drain, args=(process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _drain(self, stream: IO[str]) -> None:
        self._stderr.extend(stream)

    def close(self) -> None:
        """Kill the process if it still runs, then let the readers reach end of file."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def read(self) -> Json:
        try:
            line = self._lines.get(timeout=TIMEOUT)
        except queue.Empty:
            pytest.fail(f"the Node phone said nothing for {TIMEOUT}s; stderr:\n{self.stderr}")
        if line is None:
            pytest.fail(f"the Node phone exited ({self.process.poll()}); stderr:\n{self.stderr}")
        message: Json = json.loads(line)
        return message

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pytest.fail(f"the Node phone is gone ({self.process.poll()}); stderr:\n{self.stderr}")

    def call(self, command: str) -> Json:
        self.send(command)
        reply = self.read()
        assert "event" not in reply, reply
        return reply

    def ok(self, command: str) -> Json:
        reply = self.call(command)
        assert reply["ok"], reply
        return reply

    def sync(self, options: str = "") -> Json:
        reply = self.ok(f"sync {options}".strip())
        assert reply["unsynced"] is False, reply
        return reply

    def dump(self) -> Json:
        return self.ok("dump")

    def check_ins(self) -> dict[str, Json]:
        return {r["id"]: r for r in self.dump()["tables"]["check_ins"]}

    def library_errors(self) -> list[str]:
        """What WatermelonDB itself logged as an error (e.g. a protocol invariant broken)."""
        return [line for line in self.stderr.splitlines() if line.startswith("[wm error]")]


@contextmanager
def node_phone(live: LiveServer, headers: dict[str, str], device_id: str) -> Iterator[NodePhone]:
    process = subprocess.Popen(
        [_node(), str(SCRIPT), "phone"],
        cwd=E2E,
        env=_env(live, headers, device_id),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    phone = NodePhone(process)
    try:
        ready = phone.read()
        assert ready.get("event") == "ready", ready
        yield phone
        assert phone.call("exit") == {"ok": True, "cmd": "exit"}
        assert process.wait(timeout=TIMEOUT) == 0, phone.stderr
    finally:
        phone.close()
    assert phone.library_errors() == [], phone.stderr


# --- server side helpers -------------------------------------------------------------------


def _device(live: LiveServer, user_id: uuid.UUID) -> Device:
    with database_of(live.app).unit_of_work() as session:
        device = session.scalars(sa.select(Device).where(Device.user_id == user_id)).one()
        session.expunge(device)
        return device


def _second_phone(live: LiveServer, user_id: uuid.UUID) -> tuple[dict[str, str], str]:
    """Another device of the same user, with its own token (as a second login would make)."""
    device_id = f"wm-second-{uuid.uuid4().hex[:12]}"
    with database_of(live.app).unit_of_work() as session:
        device = Device(user_id=user_id, device_id=device_id, device_name="second phone")
        session.add(device)
        session.flush()
        token = issue_access_token(live.settings, user_id, device.id)
    return {"Authorization": f"Bearer {token}"}, device_id


def _rows(live: LiveServer, ids: list[str]) -> dict[str, CheckIn]:
    with database_of(live.app).unit_of_work() as session:
        rows = session.scalars(sa.select(CheckIn).where(CheckIn.id.in_(ids))).all()
        session.expunge_all()
    return {r.id: r for r in rows}


def _count_by_id(live: LiveServer, ids: list[str]) -> dict[str, int]:
    with database_of(live.app).unit_of_work() as session:
        counted = session.execute(
            sa.select(CheckIn.id, sa.func.count()).where(CheckIn.id.in_(ids)).group_by(CheckIn.id)
        ).all()
    return {record_id: count for record_id, count in counted}


def _teachers_check_in_ids(live: LiveServer, teacher_id: uuid.UUID) -> list[str]:
    with database_of(live.app).unit_of_work() as session:
        return sorted(
            session.scalars(sa.select(CheckIn.id).where(CheckIn.teacher_id == teacher_id))
        )


def _pushes(live: LiveServer, device_pk: uuid.UUID) -> list[SyncPush]:
    with database_of(live.app).unit_of_work() as session:
        pushes = session.scalars(
            sa.select(SyncPush)
            .where(SyncPush.device_pk == device_pk)
            .order_by(SyncPush.received_at)
        ).all()
        session.expunge_all()
        return list(pushes)


def _ids(prefix: str, world: World, n: int) -> list[str]:
    # Unique per test run: every live.world() makes a new teacher.
    return [f"{prefix}{world.teacher_a.id.hex[:10]}{i}" for i in range(n)]


# --- tests ---------------------------------------------------------------------------------


def test_client_schema_matches_the_servers_sync_tables() -> None:
    code, result, stderr = _run_once("schema")
    assert code == 0, stderr
    assert result["schema"]["version"] == SCHEMA_VERSION_MAX
    expected = {
        table.name: {c.name: (c.type, c.optional) for c in table.columns_for(SCHEMA_VERSION_MAX)}
        for table in REGISTRY.for_version(SCHEMA_VERSION_MAX)
    }
    actual = {
        name: {c["name"]: (c["type"], c["optional"]) for c in columns}
        for name, columns in result["schema"]["tables"].items()
    }
    assert actual == expected


def test_offline_check_ins_sync_to_the_tokens_teacher(live: LiveServer) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    device = _device(live, world.users["teacher_a"].id)
    ids = _ids("wmplain", world, 3)

    code, result, stderr = _run_once(
        "plain", _env(live, headers, device.device_id, WM_IDS=",".join(ids))
    )

    assert code == 0 and result["ok"], (result, stderr)
    # The client: pushed exactly its three offline check-ins, and is now in sync.
    assert result["unsyncedBefore"] is True
    sync = result["sync"]
    assert "check_ins" not in sync["pulled"]  # a new teacher: nothing of theirs yet
    assert sync["pushed"] == {"check_ins": {"created": sorted(ids)}}
    assert sync["pushStatus"] == 200
    assert sync["pushResponse"] == {
        "ok": True,
        "applied": 3,
        "unchanged": 0,
        "ignored": 0,
        "quarantined": 0,
    }
    assert result["unsynced"] is False
    local = {r["id"]: r for r in result["tables"]["check_ins"]}
    assert sorted(local) == sorted(ids)
    assert {r["_status"] for r in local.values()} == {"synced"}
    # ... and pulled its secondment and the two schools it works at.
    assert [s["id"] for s in result["tables"]["secondments"]] == [str(world.secondment_a.id)]
    assert result["tables"]["secondments"][0]["teacher_id"] == str(world.teacher_a.id)
    assert {s["id"] for s in result["tables"]["schools"]} == {
        str(world.core_a.id),
        str(world.member_a.id),
    }
    assert "[wm error]" not in stderr

    # The server: exactly those rows, the token's teacher's, with the client's values.
    assert _teachers_check_in_ids(live, world.teacher_a.id) == sorted(ids)
    rows = _rows(live, ids)
    for record_id, row in rows.items():
        mine = local[record_id]
        assert row.teacher_id == world.teacher_a.id
        assert row.device_pk == device.id
        assert row.deleted_at is None and row.location == "inside"
        # Several "in" punches in the same second: the server says so, and only that.
        assert {f["code"] for f in row.flags} <= {"duplicate_punch"}
        assert row.status == ("flagged" if row.flags else "accepted")
        assert (row.kind, row.captured_at, row.latitude, row.longitude) == (
            mine["kind"],
            mine["captured_at"],
            mine["latitude"],
            mine["longitude"],
        )
        assert row.push_boot_id == BOOT_ID and row.push_device_time is not None
        assert row.clock_skew_ms is not None and abs(row.clock_skew_ms) < 60_000
    [push] = _pushes(live, device.id)
    assert push.applied == 3 and push.device_boot_id == BOOT_ID


def test_lost_push_response_then_resync_stores_no_duplicate(live: LiveServer) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    device = _device(live, world.users["teacher_a"].id)
    ids = _ids("wmlost", world, 2)

    with node_phone(live, headers, device.device_id) as phone:
        for record_id in ids:
            phone.ok(f"create {record_id}")
        lost = phone.call("sync lose-response")
        # The server committed, the phone never heard: it still holds unsynced records.
        [attempt] = lost["attempts"]
        assert not lost["ok"] and attempt["responseLost"] and attempt["pushStatus"] == 200
        assert lost["unsynced"] is True
        assert {r["_status"] for r in phone.check_ins().values()} == {"created"}
        assert _teachers_check_in_ids(live, world.teacher_a.id) == sorted(ids)

        again = phone.sync()
        [attempt] = again["attempts"]
        # The pull brought the stored rows back; the re-push of the same records is a no-op.
        assert sorted(attempt["pulled"]["check_ins"]["updated"]) == sorted(ids)
        assert attempt["pushed"] == {"check_ins": {"created": sorted(ids)}}
        assert attempt["pushResponse"]["applied"] == 0
        assert attempt["pushResponse"]["unchanged"] == 2
        local = phone.check_ins()
        assert sorted(local) == sorted(ids)
        assert {r["_status"] for r in local.values()} == {"synced"}
        assert all(
            r["received_at"] and r["status"] in {"accepted", "flagged"} for r in local.values()
        )

    # No duplicate: one row per id, none extra for the teacher, two pushes recorded.
    assert _count_by_id(live, ids) == dict.fromkeys(ids, 1)
    assert _teachers_check_in_ids(live, world.teacher_a.id) == sorted(ids)
    rows = _rows(live, ids)
    assert sorted(rows) == sorted(ids)
    assert all(r.deleted_at is None and r.teacher_id == world.teacher_a.id for r in rows.values())
    assert [(p.applied, p.unchanged) for p in _pushes(live, device.id)] == [(2, 0), (0, 2)]


def test_server_edit_between_pull_and_push_is_a_conflict_then_merged(live: LiveServer) -> None:
    world = live.world()
    headers = world.headers["teacher_a"]
    device = _device(live, world.users["teacher_a"].id)
    [record_id] = _ids("wmconflict", world, 1)
    note = "照片稍后补传"

    with node_phone(live, headers, device.device_id) as phone:
        phone.ok(f"create {record_id}")
        phone.sync()
        phone.ok(f"update {record_id} {json.dumps({'note': note}, ensure_ascii=False)}")

        phone.send("sync retry pause")
        paused = phone.read()  # pulled, about to push
        assert paused["event"] == "before-push", paused
        assert paused["pushing"] == {"check_ins": {"updated": [record_id]}}
        with database_of(live.app).unit_of_work() as session:
            row = session.get(CheckIn, record_id)
            assert row is not None
            flag(row, "outside_fence", "342 m from the school's fence")
        phone.send("continue")
        result = phone.read()

        assert result["ok"] and result["unsynced"] is False, result
        first, retry = result["attempts"]
        # The first synchronize() fails on 409 with nothing applied ...
        assert not first["ok"] and first["errorStatus"] == 409, first
        assert first["errorBody"]["code"] == "sync_conflict"
        assert first["errorBody"]["errors"] == {"conflicts": {"check_ins": [record_id]}}
        assert "pushStatus" not in first
        # ... the retry pulls the server's edit, keeps the local note, pushes, succeeds.
        assert retry["ok"] and retry["pushStatus"] == 200
        assert record_id in retry["pulled"]["check_ins"]["updated"]
        assert [c["id"] for c in retry["resolvedConflicts"]] == [record_id]
        assert retry["pushResponse"]["applied"] == 1
        local = phone.check_ins()[record_id]
        assert local["_status"] == "synced"
        assert local["note"] == note
        assert [f["code"] for f in json.loads(local["flags"])] == ["outside_fence"]

    # Per-column merge on the server: its flag and the phone's note, in one row.
    row = _rows(live, [record_id])[record_id]
    assert row.note == note
    assert [f["code"] for f in row.flags] == ["outside_fence"]
    assert row.deleted_at is None
    assert _teachers_check_in_ids(live, world.teacher_a.id) == [record_id]


def test_delete_leaves_a_tombstone_and_leaves_the_second_phone(live: LiveServer) -> None:
    world = live.world()
    user_id = world.users["teacher_a"].id
    device = _device(live, user_id)
    second_headers, second_device_id = _second_phone(live, user_id)
    gone, kept = _ids("wmdelete", world, 2)

    with (
        node_phone(live, world.headers["teacher_a"], device.device_id) as phone_a,
        node_phone(live, second_headers, second_device_id) as phone_b,
    ):
        phone_a.ok(f"create {gone}")
        phone_a.ok(f"create {kept}")
        phone_a.sync()
        phone_b.sync()
        assert sorted(phone_b.check_ins()) == sorted([gone, kept])  # B pulled them earlier

        phone_a.ok(f"delete {gone}")
        deleted = phone_a.sync()
        assert deleted["attempts"][0]["pushed"] == {"check_ins": {"deleted": [gone]}}
        assert deleted["attempts"][0]["pushResponse"]["applied"] == 1
        dump_a = phone_a.dump()
        assert [r["id"] for r in dump_a["tables"]["check_ins"]] == [kept]
        assert dump_a["pendingDeletes"]["check_ins"] == []

        assert _count_by_id(live, [gone, kept]) == {gone: 1, kept: 1}
        rows = _rows(live, [gone, kept])
        assert rows[gone].deleted_at is not None  # a tombstone, never destroyed
        assert rows[kept].deleted_at is None

        removed = phone_b.sync()
        assert removed["attempts"][0]["pulled"]["check_ins"] == {"deleted": [gone]}
        assert sorted(phone_b.check_ins()) == [kept]
        assert phone_b.ok("count")["counts"]["check_ins"] == 1

        # Another round on A: the delete is not undone (the "zombie record" trap).
        phone_a.sync()
        assert sorted(phone_a.check_ins()) == [kept]

    assert _teachers_check_in_ids(live, world.teacher_a.id) == sorted([gone, kept])
    rows = _rows(live, [gone, kept])
    assert rows[gone].deleted_at is not None and rows[kept].deleted_at is None
