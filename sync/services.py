"""Pull and push: the server side of WatermelonDB's ``synchronize()``.

Pull sends every live record the caller may see that changed since their cursor, plus
every record that entered their scope, as ``updated``; records that left it (or were
deleted) are sent as ``deleted``. The cursor is the change journal's serial (see
``backend/db.py``), so a change can never be skipped however transactions interleave.

Push is one transaction. It first takes the journal's lock, so what it reads about the
pushed rows stays true until it commits. Any pushed record changed on the server after
``last_pulled_at`` (and not identical to what is pushed) → 409 and nothing applied.
Records that fail validation or authorization are quarantined, never dropped, and the
rest of the push applies.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance.services import Receipt
from backend.auth.policy import Principal
from backend.clock import epoch_ms
from backend.db import current_serial, journal_serial, utcnow
from backend.errors import Conflict
from sync.models import DeviceSyncState, QuarantinedRecord, SyncPush
from sync.protocol import (
    CLIENT_BOOKKEEPING,
    DeviceClock,
    Migration,
    TableChanges,
    digest,
    valid_id,
)
from sync.registry import Rejected, SyncTable
from sync.tables import REGISTRY

STATES_KEPT_PER_DEVICE = 3
_CHUNK = 500


class SyncConflict(Conflict):
    code = "sync_conflict"


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# --- pull ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequest:
    last_pulled_at: int | None
    schema_version: int
    migration: Migration | None = None


def _needs_full(table: SyncTable, req: PullRequest) -> bool:
    """A migrated client gets new tables, and tables with new columns, in full."""
    m = req.migration
    if m is None:
        return False
    new_columns = any(c.since > m.from_version for c in table.columns)
    return table.since > m.from_version or table.name in m.tables or new_columns


def _quarantine_wire(q: QuarantinedRecord, table: SyncTable, version: int) -> dict[str, Any]:
    """The phone's own payload echoed back, marked so it is not pushed again."""
    record = {c.name: q.payload.get(c.name) for c in table.columns_for(version)}
    record["id"] = q.record_id
    if any(c.name == "status" for c in table.columns):
        record["status"] = "quarantined"
    if any(c.name == "flags" for c in table.columns):
        record["flags"] = json.dumps([{"code": q.reason, "reason": q.detail}], ensure_ascii=False)
    return record


def pull(session: Session, principal: Principal, req: PullRequest) -> dict[str, Any]:
    # Read first: every change numbered ≤ X is committed and visible to the reads below.
    timestamp = current_serial(session.connection())
    previous: DeviceSyncState | None = None
    if req.last_pulled_at is not None:
        previous = session.get(DeviceSyncState, (principal.device_pk, req.last_pulled_at))
    # A cursor we hold no record of (pruned, or another device's): resend everything and
    # let the client drop whatever it has that we did not send.
    replacement = req.last_pulled_at is not None and previous is None
    since = req.last_pulled_at or 0
    changes: dict[str, dict[str, list[Any]]] = {}
    state: dict[str, list[str]] = {}
    for table in REGISTRY.for_version(req.schema_version):
        full = req.last_pulled_at is None or replacement or _needs_full(table, req)
        prev = set(previous.record_ids.get(table.name, [])) if previous else set()
        sent, visible = _pull_table(session, principal, table, req, prev, full, since, timestamp)
        deleted = sorted(prev - visible)
        changes[table.name] = {"created": [], "updated": sent, "deleted": deleted}
        state[table.name] = sorted((prev & visible) | {r["id"] for r in sent})
    _save_state(session, principal.device_pk, timestamp, req.schema_version, state)
    response: dict[str, Any] = {"changes": changes, "timestamp": timestamp}
    if replacement:
        response["experimentalStrategy"] = "replacement"
    return response


def _pull_table(
    session: Session,
    principal: Principal,
    table: SyncTable,
    req: PullRequest,
    prev: set[str],
    full: bool,
    since: int,
    timestamp: int,
) -> tuple[list[dict[str, Any]], set[str]]:
    def wanted(record_id: str, serial: int) -> bool:
        return serial <= timestamp and (full or serial > since or record_id not in prev)

    visible: set[str] = set()
    sent: list[dict[str, Any]] = []
    stmt = table.rows_for(principal)
    if stmt is not None:
        rows = stmt.subquery()
        ids = session.execute(sa.select(rows.c.id, rows.c.server_serial)).all()
        visible = {str(i) for i, _ in ids}
        send = [i for i, serial in ids if wanted(str(i), serial)]
        model_id = table.model.id
        for chunk in _chunks(send):
            for row in session.scalars(stmt.where(model_id.in_(chunk))):
                sent.append(table.wire(row, req.schema_version))
    quarantined = session.scalars(
        sa.select(QuarantinedRecord).where(
            QuarantinedRecord.user_id == principal.user_id,
            QuarantinedRecord.table_name == table.name,
            QuarantinedRecord.state == "open",
            QuarantinedRecord.deleted_at.is_(None),
        )
    ).all()
    for q in quarantined:
        if q.record_id in visible:
            continue  # the stored record is the truth the phone gets
        visible.add(q.record_id)
        if wanted(q.record_id, q.server_serial):
            sent.append(_quarantine_wire(q, table, req.schema_version))
    return sent, visible


def _save_state(
    session: Session, device_pk: uuid.UUID, timestamp: int, version: int, ids: dict[str, list[str]]
) -> None:
    existing = session.get(DeviceSyncState, (device_pk, timestamp))
    if existing is None:
        session.add(
            DeviceSyncState(
                device_pk=device_pk, timestamp=timestamp, schema_version=version, record_ids=ids
            )
        )
    else:
        existing.record_ids = ids
    session.flush()
    keep = (
        sa.select(DeviceSyncState.timestamp)
        .where(DeviceSyncState.device_pk == device_pk)
        .order_by(DeviceSyncState.timestamp.desc())
        .limit(STATES_KEPT_PER_DEVICE)
    )
    session.execute(
        sa.delete(DeviceSyncState).where(
            DeviceSyncState.device_pk == device_pk,
            DeviceSyncState.timestamp.not_in(keep.scalar_subquery()),
        )
    )


# --- push ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushRequest:
    last_pulled_at: int
    schema_version: int
    clock: DeviceClock
    changes: dict[str, TableChanges]


@dataclass
class PushOutcome:
    applied: int = 0
    unchanged: int = 0
    ignored: int = 0
    quarantined: list[tuple[str, str, str, dict[str, Any], Rejected]] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    def as_response(self) -> dict[str, Any]:
        return {
            "ok": True,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "ignored": self.ignored,
            "quarantined": len(self.quarantined),
        }


def push(session: Session, principal: Principal, req: PushRequest) -> dict[str, Any]:
    received_at = utcnow()
    receipt = Receipt(
        received_at=received_at,
        device_pk=principal.device_pk,
        device_time=req.clock.device_time,
        elapsed_ms=req.clock.elapsed_ms,
        boot_id=req.clock.boot_id,
        skew_ms=epoch_ms(received_at) - req.clock.device_time,
    )
    journal_serial(session)  # the lock first: no other writer commits between read and write
    outcome = PushOutcome()
    for table_name, changes in req.changes.items():
        _push_table(session, principal, REGISTRY.get(table_name), changes, req, receipt, outcome)
    if outcome.conflicts:
        raise SyncConflict(
            "Records changed on the server since your last pull; pull, then push again",
            errors={"conflicts": outcome.conflicts},
        )
    for table_name, record_id, operation, payload, rejected in outcome.quarantined:
        _quarantine(
            session, principal, table_name, record_id, operation, payload, rejected, receipt
        )
    session.add(
        SyncPush(
            user_id=principal.user_id,
            device_pk=principal.device_pk,
            received_at=received_at,
            last_pulled_at=req.last_pulled_at,
            device_time=req.clock.device_time,
            device_elapsed_ms=req.clock.elapsed_ms,
            device_boot_id=req.clock.boot_id,
            skew_ms=receipt.skew_ms or 0,
            schema_version=req.schema_version,
            applied=outcome.applied,
            unchanged=outcome.unchanged,
            quarantined=len(outcome.quarantined),
        )
    )
    session.flush()
    return outcome.as_response()


def _records(changes: TableChanges) -> Iterable[tuple[str, dict[str, Any]]]:
    for op in ("created", "updated"):
        for raw in getattr(changes, op):
            yield op, {k: v for k, v in raw.items() if k not in CLIENT_BOOKKEEPING}


def _push_table(
    session: Session,
    principal: Principal,
    table: SyncTable,
    changes: TableChanges,
    req: PushRequest,
    receipt: Receipt,
    outcome: PushOutcome,
) -> None:
    writer = table.writer
    allowed = writer is not None and principal.role in writer.roles
    ids = [
        i
        for i in {r["id"] for r in (*changes.created, *changes.updated)} | set(changes.deleted)
        if valid_id(i)
    ]
    existing: dict[str, Any] = {}
    for chunk in _chunks(ids if allowed else []):
        for row in session.scalars(sa.select(table.model).where(table.model.id.in_(chunk))):
            existing[str(row.id)] = row

    def reject(op: str, record_id: str, payload: dict[str, Any], reason: str, detail: str) -> None:
        outcome.quarantined.append(
            (table.name, record_id[:64], op, payload, Rejected(reason, detail))
        )

    for op, payload in _records(changes):
        record_id: str = payload["id"]
        if not valid_id(record_id):
            reject(op, record_id, payload, "invalid_id", "ids are 1–64 of A–Z a–z 0–9 _ . -")
            continue
        if writer is None or not allowed:
            reject(
                op,
                record_id,
                payload,
                "not_writable",
                f"{table.name} is read-only for a {principal.role}",
            )
            continue
        try:
            values = writer.clean(payload)
        except Rejected as exc:
            reject(op, record_id, payload, exc.reason, exc.detail)
            continue
        record_digest = digest(values)
        row = existing.get(record_id)
        if row is None:
            existing[record_id] = writer.create(
                session, principal, record_id, values, record_digest, receipt
            )
            session.flush()
            outcome.applied += 1
        elif not writer.owner_matches(row, principal):
            reject(op, record_id, payload, "id_in_use", "another record already has this id")
        elif row.deleted_at is None and row.client_digest == record_digest:
            outcome.unchanged += 1  # a replay of what is stored: nothing to do
        elif row.server_serial > req.last_pulled_at:
            outcome.conflicts.setdefault(table.name, []).append(record_id)
        elif row.deleted_at is not None:
            reject(op, record_id, payload, "deleted_on_server", "the record was deleted")
        else:
            try:
                writer.update(row, values, record_digest)
                outcome.applied += 1
            except Rejected as exc:
                reject(op, record_id, payload, exc.reason, exc.detail)
                writer.mark_rejected_update(row, exc.detail)
    for record_id in changes.deleted:
        row = existing.get(record_id)
        if row is None or writer is None or not allowed or not writer.owner_matches(row, principal):
            outcome.ignored += 1  # unknown (or not yours: said the same way, nothing leaks)
        elif row.deleted_at is not None:
            outcome.unchanged += 1
        elif row.server_serial > req.last_pulled_at:
            outcome.conflicts.setdefault(table.name, []).append(record_id)
        else:
            writer.delete(row, receipt)
            outcome.applied += 1


def _quarantine(
    session: Session,
    principal: Principal,
    table_name: str,
    record_id: str,
    operation: str,
    payload: dict[str, Any],
    rejected: Rejected,
    receipt: Receipt,
) -> None:
    entry = session.scalars(
        sa.select(QuarantinedRecord).where(
            QuarantinedRecord.user_id == principal.user_id,
            QuarantinedRecord.table_name == table_name,
            QuarantinedRecord.record_id == record_id,
        )
    ).one_or_none()
    if entry is None:
        session.add(
            QuarantinedRecord(
                user_id=principal.user_id,
                device_pk=principal.device_pk,
                table_name=table_name,
                record_id=record_id,
                operation=operation,
                payload=payload,
                reason=rejected.reason,
                detail=rejected.detail[:1000],
                first_received_at=receipt.received_at,
                last_received_at=receipt.received_at,
            )
        )
    elif entry.payload != payload or entry.reason != rejected.reason or entry.state != "open":
        # The same bad record pushed again changes nothing; a different one replaces it.
        entry.payload = payload
        entry.operation = operation
        entry.reason = rejected.reason
        entry.detail = rejected.detail[:1000]
        entry.state = "open"
        entry.attempts += 1
        entry.last_received_at = receipt.received_at


def dismiss(
    session: Session, entry: QuarantinedRecord, principal: Principal, note: str
) -> QuarantinedRecord:
    """An admin reviewed the record and set it aside; the payload stays for the record."""
    if entry.state != "open":
        raise Conflict(f"this record is already {entry.state}")
    entry.state = "dismissed"
    entry.resolved_by_id = principal.user_id
    entry.resolution_note = note
    session.flush()
    return entry
