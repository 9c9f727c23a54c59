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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.attendance.services import Receipt
from backend.audit.trail import note_inserted
from backend.auth.policy import Principal
from backend.clock import days_ago, epoch_ms
from backend.db import current_serial, journal_serial, utcnow
from backend.errors import Conflict, DomainError
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
QUARANTINE_ECHO_DAYS = 62
_CHUNK = 500


class SyncConflict(Conflict):
    code = "sync_conflict"


class BadSyncRequest(DomainError):
    status = 400
    code = "bad_sync_request"


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

    # The caller's records set aside since their cursor. Where the stored record exists
    # and is theirs to see, it is the truth the phone gets (re-sent even if unchanged);
    # otherwise the phone gets its own payload back, marked "quarantined".
    quarantined = {
        q.record_id: q
        for q in session.scalars(
            sa.select(QuarantinedRecord).where(
                QuarantinedRecord.user_id == principal.user_id,
                QuarantinedRecord.table_name == table.name,
                QuarantinedRecord.state == "open",
                QuarantinedRecord.reason != "invalid_id",  # unusable as an id on a phone
                QuarantinedRecord.deleted_at.is_(None),
                # Like the records themselves, old echoes age off the phone.
                QuarantinedRecord.last_received_at >= days_ago(QUARANTINE_ECHO_DAYS),
            )
        )
    }
    visible: set[str] = set()
    sent: list[dict[str, Any]] = []
    stmt = table.rows_for(principal)
    if stmt is not None:
        rows = stmt.subquery()
        ids = session.execute(sa.select(rows.c.id, rows.c.server_serial)).all()
        visible = {str(i) for i, _ in ids}

        def resend(record_id: str) -> bool:
            q = quarantined.get(record_id)
            return q is not None and wanted(record_id, q.server_serial)

        send = [i for i, serial in ids if wanted(str(i), serial) or resend(str(i))]
        model_id = table.model.id
        for chunk in _chunks(send):
            for row in session.scalars(stmt.where(model_id.in_(chunk))):
                sent.append(table.wire(row, req.schema_version))
    for record_id, q in quarantined.items():
        if record_id in visible:
            continue
        visible.add(record_id)
        if wanted(record_id, q.server_serial):
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
class SetAside:
    """A pushed record going to quarantine (and, for a refused update, the row to flag)."""

    table: str
    record_id: str
    operation: str
    payload: dict[str, Any]
    rejected: Rejected
    refused_update_of: Any = None


@dataclass
class PushOutcome:
    applied: int = 0
    unchanged: int = 0
    ignored: int = 0
    quarantined: list[SetAside] = field(default_factory=list)
    # Records the phone got right (or withdrew) this time: their old quarantine entry closes.
    settled: list[tuple[str, str, str]] = field(default_factory=list)
    # (table, id) this push wrote or withdrew: the writer's after_write sees them all.
    written: set[tuple[str, str]] = field(default_factory=set)
    new_rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # table → id → row
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    def as_response(self) -> dict[str, Any]:
        return {
            "ok": True,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "ignored": self.ignored,
            "quarantined": len(self.quarantined),
        }


# A push that loses a race to insert the same new id retries this often (the winner has
# committed by the time the loser learns of it, so one retry normally suffices).
PUSH_ATTEMPTS = 3


def push(session: Session, principal: Principal, req: PushRequest) -> dict[str, Any]:
    """Apply a push in one transaction (see the module docstring).

    No global lock is held while records are checked: the rows a push changes are locked
    (``FOR UPDATE``) as it reads them and a new id is guarded by its primary key; the
    change journal's serial (and its lock) is taken only once everything is checked. Two
    pushes racing to create the same id: the loser's transaction is rolled back and it looks
    again, now finding the row.
    """
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            return _push_once(session, principal, req)
        except IntegrityError:
            # The whole transaction is this push (authentication only read), so undo it
            # and look again: the row that beat us is committed by now.
            session.rollback()
            if attempt == PUSH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _push_once(session: Session, principal: Principal, req: PushRequest) -> dict[str, Any]:
    received_at = utcnow()
    receipt = Receipt(
        received_at=received_at,
        device_pk=principal.device_pk,
        device_time=req.clock.device_time,
        elapsed_ms=req.clock.elapsed_ms,
        boot_id=req.clock.boot_id,
        skew_ms=epoch_ms(received_at) - req.clock.device_time,
    )
    outcome = PushOutcome()
    # Lock order, to stay deadlock-free: every row this push will change is locked first
    # (FOR UPDATE, while reading it), the journal last. Nothing is flushed before that.
    with session.no_autoflush:
        for table_name, changes in req.changes.items():
            _push_table(
                session, principal, REGISTRY.get(table_name), changes, req, receipt, outcome
            )
        if outcome.conflicts:
            raise SyncConflict(
                "Records changed on the server since your last pull; pull, then push again",
                errors={"conflicts": outcome.conflicts},
            )
        entries = _quarantine_entries(session, principal, outcome)
        # Checked and built: only now take the journal's serial (and its lock, until
        # commit), so rows are written already numbered and others wait only for our writes.
        serial = journal_serial(session)
        if req.last_pulled_at >= serial:  # ours is the first serial not handed out before
            raise BadSyncRequest("last_pulled_at is ahead of the server: use a pull's timestamp")
        for aside in _last_per_record(outcome.quarantined):
            entry = entries.get((aside.table, aside.record_id))
            changed = _quarantine(session, principal, aside, receipt, entry)
            writer = REGISTRY.get(aside.table).writer
            if changed and writer is not None and aside.refused_update_of is not None:
                # Flag once per distinct refusal; a replay of the same one changes nothing.
                writer.mark_rejected_update(aside.refused_update_of, aside.rejected.detail)
        _settle(outcome.settled, entries)
        for table_name, rows in outcome.new_rows.items():
            if not rows:  # every new record of the table was set aside
                continue
            writer = REGISTRY.get(table_name).writer
            assert writer is not None
            writer.prepare_new(session, principal, [r for r in rows.values()])
            # One multi-row INSERT, without building an ORM object per record.
            model = REGISTRY.get(table_name).model
            session.connection().execute(
                model.__table__.insert(), [{**r, "server_serial": serial} for r in rows.values()]
            )
            note_inserted(session, model, rows.values())
        for table_name in req.changes:
            writer = REGISTRY.get(table_name).writer
            written = [i for t, i in outcome.written if t == table_name]
            if writer is not None and written and principal.role in writer.roles:
                writer.after_write(session, principal, written)
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
    session.flush()  # one flush: the new rows go out in one multi-row INSERT
    return outcome.as_response()


def _records(changes: TableChanges) -> Iterable[tuple[str, dict[str, Any]]]:
    """Created and updated records; one per id (the last), as a client should send them."""
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for op in ("created", "updated"):
        for raw in getattr(changes, op):
            latest[raw["id"]] = (op, {k: v for k, v in raw.items() if k not in CLIENT_BOOKKEEPING})
    return latest.values()


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
    records = list(_records(changes))
    ids = [i for i in {r["id"] for _, r in records} | set(changes.deleted) if valid_id(i)]
    existing: dict[str, Any] = {}
    for chunk in _chunks(ids if allowed else []):
        # Locked as read: until this push commits, nobody else changes what it checked.
        stmt = sa.select(table.model).where(table.model.id.in_(chunk)).with_for_update()
        for row in session.scalars(stmt):
            existing[str(row.id)] = row

    def set_aside(
        op: str, payload: dict[str, Any], reason: str, detail: str, row: Any = None
    ) -> None:
        outcome.quarantined.append(
            SetAside(table.name, payload["id"][:64], op, payload, Rejected(reason, detail), row)
        )

    for op, payload in records:
        record_id: str = payload["id"]
        if not valid_id(record_id):
            set_aside(op, payload, "invalid_id", "ids are 1–64 of A–Z a–z 0–9 _ . -")
            continue
        if writer is None or not allowed:
            # The stored record (if the caller sees it) is sent back on the next pull.
            set_aside(
                op, payload, "not_writable", f"{table.name} is read-only for a {principal.role}"
            )
            continue
        try:
            values = writer.clean(payload)
        except Rejected as exc:
            set_aside(op, payload, exc.reason, exc.detail)
            continue
        record_digest = digest(values)
        row = existing.get(record_id)
        if row is None:
            batch = outcome.new_rows.setdefault(table.name, {})
            try:
                new = writer.new_row(
                    session, principal, record_id, values, record_digest, receipt, batch
                )
            except Rejected as exc:
                set_aside(op, payload, exc.reason, exc.detail)
                continue
            batch[record_id] = new
            outcome.applied += 1
        elif not writer.owner_matches(row, principal):
            set_aside(op, payload, "id_in_use", "another record already has this id")
            continue
        elif row.deleted_at is None and row.client_digest == record_digest:
            outcome.unchanged += 1  # a replay of what is stored: nothing to do
        elif row.server_serial > req.last_pulled_at:
            outcome.conflicts.setdefault(table.name, []).append(record_id)
            continue
        elif row.deleted_at is not None:
            set_aside(op, payload, "deleted_on_server", "the record was deleted")
            continue
        else:
            try:
                writer.update(session, row, values, record_digest)
            except Rejected as exc:
                set_aside(op, payload, exc.reason, exc.detail, row)
                continue
            outcome.applied += 1
        outcome.settled.append((table.name, record_id, "resolved"))
        outcome.written.add((table.name, record_id))
    _push_deletes(session, principal, table, changes.deleted, existing, req, receipt, outcome)


def _push_deletes(
    session: Session,
    principal: Principal,
    table: SyncTable,
    deleted: list[str],
    existing: dict[str, Any],
    req: PushRequest,
    receipt: Receipt,
    outcome: PushOutcome,
) -> None:
    writer = table.writer
    if writer is None or principal.role not in writer.roles:
        # A phone cannot delete what it may only read: set the delete aside so that the
        # next pull sends the record back (unknown or unseen ids stay ignored: no leak).
        visible = _visible_ids(session, principal, table, deleted)
        for record_id in deleted:
            if record_id in visible:
                outcome.quarantined.append(
                    SetAside(
                        table.name,
                        record_id,
                        "deleted",
                        {"id": record_id},
                        Rejected("not_writable", f"{table.name} is read-only"),
                    )
                )
            else:
                outcome.ignored += 1
                outcome.settled.append((table.name, record_id, "dismissed"))  # its own reject
        return
    created_now = outcome.new_rows.get(table.name, {})
    for record_id in deleted:
        row = existing.get(record_id)
        # Whatever happens to the record, a quarantine entry of the caller's for it is done.
        outcome.settled.append((table.name, record_id, "dismissed"))
        if record_id in created_now:
            writer.delete_new(created_now[record_id], receipt)  # created and withdrawn at once
            outcome.applied += 1
        elif row is None or not writer.owner_matches(row, principal):
            outcome.ignored += 1  # unknown, or not yours: said the same way, nothing leaks
        elif row.deleted_at is not None:
            outcome.unchanged += 1
        elif (
            row.server_serial > req.last_pulled_at
            and (table.name, record_id) not in outcome.written
        ):
            outcome.conflicts.setdefault(table.name, []).append(record_id)
        else:
            writer.delete(row, receipt)
            outcome.applied += 1
            outcome.written.add((table.name, record_id))


def _visible_ids(
    session: Session, principal: Principal, table: SyncTable, ids: list[str]
) -> set[str]:
    stmt = table.rows_for(principal)
    if stmt is None or not ids:
        return set()
    rows = stmt.subquery()
    found = session.execute(sa.select(rows.c.id)).scalars()
    wanted = set(ids)
    return {str(i) for i in found if str(i) in wanted}


def _quarantine_entries(
    session: Session, principal: Principal, outcome: PushOutcome
) -> dict[tuple[str, str], QuarantinedRecord]:
    """The caller's entries this push may touch, locked now (before the journal)."""
    ids = {a.record_id for a in outcome.quarantined} | {i for _, i, _ in outcome.settled}
    entries: dict[tuple[str, str], QuarantinedRecord] = {}
    for chunk in _chunks(sorted(ids)):
        stmt = (
            sa.select(QuarantinedRecord)
            .where(
                QuarantinedRecord.user_id == principal.user_id,
                QuarantinedRecord.record_id.in_(chunk),
            )
            .with_for_update()
        )
        for entry in session.scalars(stmt):
            entries[(entry.table_name, entry.record_id)] = entry
    return entries


def _last_per_record(asides: list[SetAside]) -> list[SetAside]:
    return list({(a.table, a.record_id): a for a in asides}.values())


def _settle(
    settled: list[tuple[str, str, str]], entries: dict[tuple[str, str], QuarantinedRecord]
) -> None:
    """Close the caller's open quarantine entries for records now stored or withdrawn."""
    for table_name, record_id, state in settled:
        entry = entries.get((table_name, record_id))
        if entry is not None and entry.state == "open":
            entry.state = state
            entry.resolution_note = (
                "a valid version was pushed" if state == "resolved" else "withdrawn on the phone"
            )


def _quarantine(
    session: Session,
    principal: Principal,
    aside: SetAside,
    receipt: Receipt,
    entry: QuarantinedRecord | None,
) -> bool:
    """Store (or refresh) the entry; False when it is a replay of the stored one."""
    detail = aside.rejected.detail[:1000]
    table = REGISTRY.get(aside.table)
    if entry is None:
        session.add(
            QuarantinedRecord(
                user_id=principal.user_id,
                device_pk=principal.device_pk,
                table_name=aside.table,
                record_id=aside.record_id,
                operation=aside.operation,
                payload=aside.payload,
                reason=aside.rejected.reason,
                detail=detail,
                first_received_at=receipt.received_at,
                last_received_at=receipt.received_at,
            )
        )
        return True
    # Received again: the entry changes (its serial too), so the next pull answers it again
    # even if the answer to this push was lost.
    entry.last_received_at = receipt.received_at
    same = (
        _client_part(table, entry.payload) == _client_part(table, aside.payload)
        and entry.reason == aside.rejected.reason
        and entry.state == "open"
    )
    if same:
        return False  # the same refusal: no new attempt, no new flag
    entry.payload = aside.payload
    entry.operation = aside.operation
    entry.reason = aside.rejected.reason
    entry.detail = detail
    entry.state = "open"
    entry.attempts += 1
    return True


def _client_part(table: SyncTable, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without the server-owned columns a phone echoes back (flags, status…)."""
    owned = {c.name for c in table.columns if c.server_owned and table.writer is not None}
    return {k: v for k, v in payload.items() if k not in owned}


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
