"""The WatermelonDB sync wire protocol, pure: parsing, shapes, versions and limits.

No Flask and no ORM here: every function takes plain values and either returns typed
values or raises :class:`ProtocolError` carrying the HTTP status and a message that
names the offending part. See ``docs/sync-protocol.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION_MIN = 1
# 2: leave_requests and punch_corrections; 3: spot_checks and spot_check_visits; 4:
# timetable_entries and class_sessions (each table and column names its version).
SCHEMA_VERSION_MAX = 4
MAX_PUSH_RECORDS = 1000
MAX_PUSH_BYTES = 4 * 1024 * 1024
MAX_ID_LENGTH = 64
# WatermelonDB's generator makes 16 alphanumerics; apps may override it with UUIDs.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
OPERATIONS = ("created", "updated", "deleted")
# ASCII digits only (str.isdigit also accepts "²" and other digits int() refuses).
_DIGITS = re.compile(r"^[0-9]{1,18}$")
_SIGNED_DIGITS = re.compile(r"^-?[0-9]{1,18}$")
# Raw-record keys that belong to the client's bookkeeping, never to the data.
CLIENT_BOOKKEEPING = frozenset({"_status", "_changed"})


class ProtocolError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> ProtocolError:
    return ProtocolError(400, "bad_sync_request", message)


def parse_last_pulled_at(raw: str | None, *, required: bool) -> int | None:
    """``null``, ``0``, empty or absent mean "never pulled" (a first sync)."""
    raw = None if raw is None else raw.strip()
    if raw is None or raw in {"", "null", "undefined"}:
        if required:
            raise _bad("last_pulled_at is required on push (the timestamp of your last pull)")
        return None
    if not _DIGITS.match(raw):
        raise _bad(f"last_pulled_at must be a non-negative integer or null, got {raw[:40]!r}")
    value = int(raw)
    return value or None


def parse_schema_version(raw: str | None) -> int:
    if raw is None or not _DIGITS.match(raw.strip()):
        raise _bad("schema_version must be an integer (your app's schema version)")
    version = int(raw.strip())
    if version < SCHEMA_VERSION_MIN:
        raise ProtocolError(
            426,
            "upgrade_required",
            f"schema_version {version} is no longer supported; update the app "
            f"(supported: {SCHEMA_VERSION_MIN}–{SCHEMA_VERSION_MAX})",
        )
    if version > SCHEMA_VERSION_MAX:
        raise _bad(
            f"schema_version {version} is newer than this server supports "
            f"({SCHEMA_VERSION_MIN}–{SCHEMA_VERSION_MAX})"
        )
    return version


@dataclass(frozen=True)
class Migration:
    """What a migrated client lacks: tables added and columns added since ``from_version``."""

    from_version: int
    tables: frozenset[str]
    columns: Mapping[str, frozenset[str]]


def parse_migration(raw: str | None) -> Migration | None:
    if raw is None or raw.strip() in {"", "null", "undefined"}:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _bad("migration must be JSON or null") from exc
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("from"), int):
        raise _bad('migration must be {"from": int, "tables": [...], "columns": [...]}')
    tables = data.get("tables", [])
    columns = data.get("columns", [])
    if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
        raise _bad("migration.tables must be a list of table names")
    if not isinstance(columns, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("table"), str)
        and isinstance(c.get("columns"), list)
        and all(isinstance(n, str) for n in c["columns"])
        for c in columns
    ):
        raise _bad("migration.columns must be a list of {table, columns: [names]}")
    return Migration(
        from_version=data["from"],
        tables=frozenset(tables),
        columns={c["table"]: frozenset(c["columns"]) for c in columns},
    )


@dataclass(frozen=True)
class DeviceClock:
    """The push's device headers: which device, and its clocks at the moment of sending."""

    device_id: str
    device_time: int
    elapsed_ms: int | None
    boot_id: str | None


def parse_device_headers(headers: Mapping[str, str]) -> DeviceClock:
    device_id = headers.get("X-Device-Id", "").strip()
    if not device_id:
        raise _bad("X-Device-Id header is required on push")

    def number(name: str, required: bool) -> int | None:
        raw = headers.get(name, "").strip()
        if not raw:
            if required:
                raise _bad(f"{name} header is required on push (device epoch ms now)")
            return None
        if not _SIGNED_DIGITS.match(raw):
            raise _bad(f"{name} must be an integer number of milliseconds")
        return int(raw)

    boot = headers.get("X-Device-Boot", "").strip() or None
    if boot is not None and len(boot) > MAX_ID_LENGTH:
        raise _bad(f"X-Device-Boot is longer than {MAX_ID_LENGTH} characters")
    device_time = number("X-Device-Time", True)
    assert device_time is not None
    return DeviceClock(device_id, device_time, number("X-Device-Elapsed", False), boot)


@dataclass
class TableChanges:
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def count(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)


def _without_nul(value: Any) -> Any:
    """Strip NUL characters, which PostgreSQL cannot store in text: sanitize, don't refuse."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def parse_changes(body: object, known_tables: set[str]) -> dict[str, TableChanges]:
    """Check the shape of a push body; the records' contents are checked per table later."""
    if not isinstance(body, dict):
        raise _bad("the push body must be a JSON object of tables")
    result: dict[str, TableChanges] = {}
    total = 0
    for table, ops in body.items():
        if table not in known_tables:
            raise ProtocolError(
                422, "unknown_table", f"unknown table {table[:64]!r}; known: {sorted(known_tables)}"
            )
        if not isinstance(ops, dict) or set(ops) - set(OPERATIONS):
            raise _bad(f"{table} must be an object with created, updated and deleted lists")
        changes = TableChanges()
        for op in ("created", "updated"):
            records = ops.get(op, [])
            if not isinstance(records, list):
                raise _bad(f"{table}.{op} must be a list of records")
            for index, record in enumerate(records):
                if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                    raise _bad(f"{table}.{op}[{index}] must be a record with a string id")
            getattr(changes, op).extend(_without_nul(r) for r in records)
        deleted = ops.get("deleted", [])
        if not isinstance(deleted, list) or not all(isinstance(i, str) for i in deleted):
            raise _bad(f"{table}.deleted must be a list of record ids")
        changes.deleted.extend(_without_nul(i) for i in deleted)
        total += changes.count()
        if total > MAX_PUSH_RECORDS:
            raise ProtocolError(
                413,
                "too_many_records",
                f"a push carries at most {MAX_PUSH_RECORDS} records; split it",
            )
        result[table] = changes
    return result


def valid_id(record_id: str) -> bool:
    return bool(ID_PATTERN.match(record_id))


def digest(values: Mapping[str, Any]) -> str:
    """A stable digest of a record's client-written values (key order does not matter)."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
