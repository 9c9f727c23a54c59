"""Capturing changes to audited rows and appending them to the chain.

An audited model inherits :class:`Audited`. Every flush notes, per audited row, what
changed: an insert its values, an update the changed columns' old and new values, a delete
the last values. A note made inside a savepoint that is rolled back goes with it (a sync
push sets a bad record aside that way). At commit the transaction takes the chain's head
(a row lock, taken after the change journal's, so the lock order is fixed) and appends
its notes as numbered, chained events in the same transaction: the events commit with
the changes they describe, or not at all, and the head is held only for the append and
the commit.

A write that bypasses the ORM (sync's multi-row INSERT) calls :func:`note_inserted`.

Who made the change is taken when it is noted: the request's principal (user, role and
the device the token was issued to) with the request id, else the RQ job, else the
command line; :func:`acting_as` names an actor explicitly.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import g, has_app_context
from rq import get_current_job
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from backend.audit.chain import event_hash
from backend.audit.models import AuditEvent, AuditHead
from backend.db import utcnow

# Bookkeeping every journaled row carries: a change of it alone is not a change of the record.
_NEVER_RECORDED = frozenset({"server_serial"})
_NOTES_KEY = "audit_notes"
_ACTOR_KEY = "audit_actor"


class Audited:
    """Rows whose every change is recorded in the audit trail.

    ``__audit_omit__`` names columns left out of the record: large derived values that
    another recorded column stands for (a report's rows, by its ``content_hash``).
    """

    __audit_omit__: ClassVar[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    user_id: uuid.UUID | None = None
    device_pk: uuid.UUID | None = None
    device_id: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class _Note:
    table_name: str
    record_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor: Actor
    transaction: SessionTransaction  # the innermost transaction it was noted in


@contextmanager
def acting_as(session: Session, actor: Actor) -> Iterator[None]:
    """Record changes noted in the block as ``actor``'s (e.g. a command run for someone)."""
    previous = session.info.get(_ACTOR_KEY)
    session.info[_ACTOR_KEY] = actor
    try:
        yield
    finally:
        if previous is None:
            session.info.pop(_ACTOR_KEY, None)
        else:
            session.info[_ACTOR_KEY] = previous


def current_actor(session: Session) -> Actor:
    named: Actor | None = session.info.get(_ACTOR_KEY)
    if named is not None:
        return named
    if has_app_context():
        request_id = str(g.get("request_id", ""))
        principal = g.get("principal")
        if principal is not None:
            return Actor(
                name=principal.username,
                role=principal.role,
                user_id=principal.user_id,
                device_pk=principal.device_pk,
                device_id=principal.device_id,
                request_id=request_id,
            )
    job = get_current_job()  # a worker's job, when this runs in one
    if job is not None:
        return Actor(name=f"job:{job.func_name}", role="system", request_id=f"rq:{job.id}")
    return Actor(name="system", role="system")


# --- values as recorded ---------------------------------------------------------------------


def recorded_value(value: Any) -> Any:
    """A column value as JSON: what it is stored and hashed as (stable across databases)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return recorded_value(value.value)
    if isinstance(value, Mapping):
        return {str(k): recorded_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [recorded_value(v) for v in value]
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    return str(value)


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _recorded_columns(model: type[Audited], keys: Iterable[str]) -> list[str]:
    skip = _NEVER_RECORDED | model.__audit_omit__
    return [k for k in keys if k not in skip]


def _innermost(session: Session) -> SessionTransaction:
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None  # a flush always runs in a transaction
    return transaction


def _note(session: Session, note: _Note) -> None:
    session.info.setdefault(_NOTES_KEY, []).append(note)


def note_inserted(session: Session, model: type, rows: Iterable[Mapping[str, Any]]) -> None:
    """Note rows of ``model`` inserted without the ORM (a no-op for an unaudited model)."""
    if not issubclass(model, Audited):
        return
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    (pk,) = table.primary_key.columns
    actor, transaction = current_actor(session), _innermost(session)
    for row in rows:
        after = {k: recorded_value(row[k]) for k in _recorded_columns(model, row)}
        _note(
            session,
            _Note(table.name, str(row[pk.key]), "insert", None, after, actor, transaction),
        )


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _context: Any) -> None:
    """Note what this flush changed in audited rows (history is still there after it)."""
    changed = [
        (action, obj)
        for action, objects in (
            ("insert", session.new),
            ("update", session.dirty),
            ("delete", session.deleted),
        )
        for obj in objects
        if isinstance(obj, Audited)
    ]
    if not changed:
        return
    actor, transaction = current_actor(session), _innermost(session)
    for action, obj in changed:
        state = sa.inspect(obj)
        mapper = state.mapper
        keys = _recorded_columns(type(obj), [a.key for a in mapper.column_attrs])
        before: dict[str, Any] | None = None
        after: dict[str, Any] | None = None
        if action == "insert":
            after = {k: recorded_value(state.dict[k]) for k in keys if k in state.dict}
        elif action == "delete":
            before = {k: recorded_value(state.dict[k]) for k in keys if k in state.dict}
        else:
            before, after = {}, {}
            for key in keys:
                history = state.attrs[key].history
                if not history.added:
                    continue
                after[key] = recorded_value(history.added[0])
                if history.deleted:  # unknown if the old value was never loaded
                    before[key] = recorded_value(history.deleted[0])
            if not after:
                continue
        record_id = ",".join(str(v) for v in mapper.primary_key_from_instance(obj))
        table_name = mapper.local_table.name
        _note(session, _Note(table_name, record_id, action, before, after, actor, transaction))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """Notes made in the transaction just rolled back (or inside it) never happened."""
    notes: list[_Note] = session.info.get(_NOTES_KEY, [])

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous:
                return True
            transaction = transaction.parent
        return False

    session.info[_NOTES_KEY] = [n for n in notes if not inside(n.transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget_notes(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_NOTES_KEY, None)


@event.listens_for(Session, "before_commit")
def _append_notes(session: Session) -> None:
    # Registered after the journal's own before_commit (this module imports backend.db),
    # so the journal's lock is always taken before the head's: no deadlock between them.
    session.flush()
    notes: list[_Note] = session.info.pop(_NOTES_KEY, [])
    if notes:
        append(session.connection(), notes)


def append(connection: sa.Connection, notes: list[_Note]) -> None:
    """Number, chain and insert ``notes`` after the current head, and move the head."""
    # UPDATE … RETURNING takes the head's row lock until commit: appenders queue here.
    seq, prev_hash, last_at = connection.execute(
        sa.update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq)
        .returning(AuditHead.seq, AuditHead.hash, AuditHead.occurred_at)
    ).one()
    # Never earlier than the event before it, so "the head at the end of a day" is the
    # last event of that day even if the clock steps back.
    occurred_at = utcnow() if last_at is None else max(utcnow(), last_at)
    rows = []
    for note in notes:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq,
            "occurred_at": instant(occurred_at),
            "actor": note.actor.name[:200],
            "actor_user_id": recorded_value(note.actor.user_id),
            "actor_role": note.actor.role,
            "device_pk": recorded_value(note.actor.device_pk),
            "device_id": note.actor.device_id[:128],
            "request_id": note.actor.request_id[:128],
            "table_name": note.table_name,
            "record_id": note.record_id,
            "action": note.action,
            "before": note.before,
            "after": note.after,
            "prev_hash": prev_hash,
        }
        prev_hash = fields["hash"] = event_hash(fields)
        rows.append(
            {
                **fields,
                "occurred_at": occurred_at,
                "actor_user_id": note.actor.user_id,
                "device_pk": note.actor.device_pk,
            }
        )
    connection.execute(sa.insert(AuditEvent), rows)
    connection.execute(
        sa.update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=seq, hash=prev_hash, occurred_at=occurred_at)
    )


def stored_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event row as read back, in the form its hash was computed over."""
    return {
        **row,
        "occurred_at": instant(row["occurred_at"]),
        "actor_user_id": recorded_value(row["actor_user_id"]),
        "device_pk": recorded_value(row["device_pk"]),
    }
