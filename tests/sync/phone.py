"""A scripted phone for sync tests: a local store with WatermelonDB's bookkeeping.

It follows WatermelonDB's client algorithm closely enough to test the server against:
pull (apply updated/deleted, per-column "local wins" for locally changed columns), then
push every local change with the pull's timestamp, then mark the pushed records synced.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.auth.models import Device
from tests.factories import World

# A minute ago, where the factories put every school: a punch the server finds unremarkable
# (on time, inside the fence), so tests of other things see no flags.
CAPTURED_AT = int(time.time() * 1000) - 60_000


def check_in(record_id: str, **values: Any) -> dict[str, Any]:
    record = {
        "id": record_id,
        "kind": "in",
        "captured_at": CAPTURED_AT,
        "latitude": 35.96,
        "longitude": 105.73,
        "accuracy_m": 12.0,
        "coord_system": "wgs84",
        "mock_location": False,
        "photo_id": None,
        "photo_sha256": None,
        # No time-since-boot: the server estimates from the push's clock alone (the
        # elapsed-time method has its own tests in tests/attendance/test_evaluation.py).
        "elapsed_ms": None,
        "boot_id": None,
        "note": "",
    }
    record.update(values)
    return record


@dataclass
class LocalRecord:
    values: dict[str, Any]
    status: str = "synced"  # synced | created | updated | deleted
    changed: set[str] = field(default_factory=set)


@dataclass
class Phone:
    client: FlaskClient
    headers: dict[str, str]
    device_id: str
    schema_version: int = 1
    last_pulled_at: int | None = None
    tables: dict[str, dict[str, LocalRecord]] = field(default_factory=dict)

    def table(self, name: str) -> dict[str, LocalRecord]:
        return self.tables.setdefault(name, {})

    # local edits ------------------------------------------------------------------------
    def create(self, table: str, record: dict[str, Any]) -> None:
        self.table(table)[record["id"]] = LocalRecord(dict(record), "created")

    def update(self, table: str, record_id: str, **values: Any) -> None:
        local = self.table(table)[record_id]
        local.values.update(values)
        if local.status == "synced":
            local.status = "updated"
        local.changed |= set(values)

    def delete(self, table: str, record_id: str) -> None:
        # Like WatermelonDB's markAsDeleted: even a never-synced record's id is pushed as
        # deleted (its create may have reached the server with the response lost).
        self.table(table)[record_id].status = "deleted"

    # protocol ---------------------------------------------------------------------------
    def pull_request(self) -> TestResponse:
        cursor = "null" if self.last_pulled_at is None else str(self.last_pulled_at)
        return self.client.get(
            f"/api/v1/sync?last_pulled_at={cursor}&schema_version={self.schema_version}"
            "&migration=null",
            headers=self.headers,
        )

    def apply_pull(self, body: dict[str, Any]) -> None:
        replacement = body.get("experimentalStrategy") == "replacement"
        for name, changes in body["changes"].items():
            local = self.table(name)
            incoming = {r["id"]: r for r in changes["created"] + changes["updated"]}
            if replacement:
                for record_id in list(local):
                    if record_id not in incoming and local[record_id].status == "synced":
                        del local[record_id]
            for record_id in changes["deleted"]:
                local.pop(record_id, None)
            for record_id, record in incoming.items():
                mine = local.get(record_id)
                if mine is None:
                    local[record_id] = LocalRecord(dict(record))
                elif mine.status == "synced":
                    mine.values = dict(record)
                elif mine.status != "deleted":
                    merged = dict(record)
                    merged.update({k: mine.values[k] for k in mine.changed})
                    mine.values = merged
        self.last_pulled_at = body["timestamp"]

    def pull(self) -> dict[str, Any]:
        response = self.pull_request()
        assert response.status_code == 200, response.json
        body: dict[str, Any] = response.get_json()
        self.apply_pull(body)
        return body

    def pending_changes(self) -> dict[str, dict[str, list[Any]]]:
        changes: dict[str, dict[str, list[Any]]] = {}
        for name, records in self.tables.items():
            created = [r.values for r in records.values() if r.status == "created"]
            updated = [r.values for r in records.values() if r.status == "updated"]
            deleted = [i for i, r in records.items() if r.status == "deleted"]
            if created or updated or deleted:
                changes[name] = {"created": created, "updated": updated, "deleted": deleted}
        return changes

    def push_request(self, changes: dict[str, Any]) -> TestResponse:
        return self.client.post(
            f"/api/v1/sync?last_pulled_at={self.last_pulled_at or 0}"
            f"&schema_version={self.schema_version}",
            data=json.dumps(changes),
            content_type="application/json",
            headers={
                **self.headers,
                "X-Device-Id": self.device_id,
                "X-Device-Time": str(int(time.time() * 1000)),
                "X-Device-Elapsed": "500000",
                "X-Device-Boot": "boot-1",
            },
        )

    def mark_synced(self, changes: dict[str, dict[str, list[Any]]]) -> None:
        for name, ops in changes.items():
            local = self.table(name)
            for record in ops["created"] + ops["updated"]:
                mine = local.get(record["id"])
                if mine is not None and mine.values == record:
                    mine.status, mine.changed = "synced", set()
            for record_id in ops["deleted"]:
                if record_id in local and local[record_id].status == "deleted":
                    del local[record_id]

    def sync(self) -> TestResponse:
        """One synchronize(): pull, then push what is pending; returns the push response."""
        self.pull()
        changes = self.pending_changes()
        response = self.push_request(changes)
        if response.status_code == 200:
            self.mark_synced(changes)
        return response


def phone_for(client: FlaskClient, session: Session, world: World, persona: str) -> Phone:
    """A phone logged in as ``persona`` (its device is the one the world made for it)."""
    user = world.users[persona]
    device = session.query(Device).filter(Device.user_id == user.id).one()
    return Phone(client=client, headers=world.headers[persona], device_id=device.device_id)
