"""The synced tables of schema version 4: the community's joint timetable (read-only) and
class report forms of synchronized classes (pushed; ``backend.classes.sessions``).

Teachers and school admins pull the timetable entries and report forms of their communities
(the central policy's READ scopes): the entries of this school year on, the forms of the
last year and any rejected one still to fix. A form is filed on the lead teacher's phone,
often offline, and a school admin's phone may file one too. A form for a community the user
is not in is quarantined ``not_in_community``; its review (verified or rejected, with the
reason and the revision decided on), whether it is complete and what it lacks, and where
each of its photos stands come back on the next pull. Deleting a form withdraws it: a
tombstone, never erased.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from backend import clock
from backend.attendance.services import Receipt
from backend.auth.policy import Action, Principal, Resource, scope
from backend.classes import photos, sessions
from backend.classes.models import ClassSession, TimetableEntry
from backend.classes.timetable import school_year_of
from backend.clock import epoch_ms
from backend.errors import DomainError
from media.services import photo_states
from sync.registry import Column, Rejected, SyncTable, WireType

VERSION = 4
# A phone keeps a year of its communities' reports (a school year's progress), and every
# rejected one however old: it is still to be fixed.
SESSION_WINDOW_DAYS = 366
PULLERS = frozenset({"teacher", "school_admin"})


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _owned(name: str, wire: WireType, doc: str = "") -> Column:
    return Column(name, wire, server_owned=True, since=VERSION, doc=doc)


# --- timetable_entries (read-only) ----------------------------------------------------------------


def _entries_for(p: Principal) -> sa.Select[Any] | None:
    if p.role not in PULLERS:
        return None
    return sa.select(TimetableEntry).where(
        scope(p, Resource.TIMETABLE, Action.READ),
        TimetableEntry.deleted_at.is_(None),
        TimetableEntry.school_year >= school_year_of(clock.today()),
    )


def _entry_wire(row: TimetableEntry) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "community_id": str(row.community_id),
        "school_year": row.school_year,
        "term": row.term,
        "subject": row.subject,
        "lead_school_id": str(row.lead_school_id),
        "lead_teacher_id": _str_or_none(row.lead_teacher_id),
        "lead_class_name": row.lead_class_name,
        "receivers": _json(list(row.receivers)),
        "weekday": row.weekday,
        "period": row.period,
        "dates": _json(list(row.dates)),
        "note": row.note,
    }


TIMETABLE_ENTRIES = SyncTable(
    name="timetable_entries",
    model=TimetableEntry,
    since=VERSION,
    doc="The community's joint timetable of synchronized classes (一张表, read-only).",
    columns=(
        _owned("community_id", "string"),
        _owned("school_year", "number", "the year it starts (2026: 2026–27)"),
        _owned("term", "number", "1 autumn (Sep–Jan), 2 spring (Feb–Aug)"),
        _owned("subject", "string"),
        _owned("lead_school_id", "string"),
        _owned("lead_teacher_id", "string"),
        _owned("lead_class_name", "string"),
        _owned("receivers", "string", "JSON array of {school_id, class_name}"),
        _owned("weekday", "number", "1 = Monday … 7 = Sunday (null: listed dates)"),
        _owned("period", "string", "e.g. 第3节, 10:00"),
        _owned("dates", "string", "JSON array of YYYY-MM-DD"),
        _owned("note", "string"),
    ),
    rows_for=_entries_for,
    to_wire=_entry_wire,
)


# --- class_sessions (pushed by teachers and school admins) ----------------------------------------


def _sessions_for(p: Principal) -> sa.Select[Any] | None:
    if p.role not in PULLERS:
        return None
    since = clock.today() - timedelta(days=SESSION_WINDOW_DAYS)
    return sa.select(ClassSession).where(
        scope(p, Resource.CLASS_SESSION, Action.READ),
        ClassSession.deleted_at.is_(None),
        sa.or_(ClassSession.day >= since, ClassSession.review_status == "rejected"),
    )


def _session_wire(row: ClassSession) -> dict[str, Any]:
    session = object_session(row)
    assert session is not None  # rows come from the pull's own queries
    states = photo_states(session, row.submitted_by_id, photos.photo_ids_of(row))
    return {
        "id": row.id,
        "community_id": str(row.community_id),
        "timetable_entry_id": _str_or_none(row.timetable_entry_id),
        "day": row.day.isoformat(),
        "subject": row.subject,
        "topic": row.topic,
        "lead_school_id": str(row.lead_school_id),
        "lead_teacher_id": _str_or_none(row.lead_teacher_id),
        "lead_class_name": row.lead_class_name,
        "lead_student_count": row.lead_student_count,
        "duration_minutes": row.duration_minutes,
        "connection_quality": row.connection_quality,
        "problems": row.problems,
        "discussion": row.discussion,
        "participants": _json(list(row.participants)),
        "lead_photo_ids": _json(list(row.lead_photo_ids)),
        "submitted_by_id": str(row.submitted_by_id),
        "received_at": epoch_ms(row.received_at),
        "complete": row.complete,
        "missing": _json(list(row.missing)),
        "photo_states": _json(states),
        "review_status": row.review_status,
        "review_reason": row.review_reason,
        "revision": row.revision,
        "status": "accepted",
        # Stored forms carry no flags; a quarantine echo carries its reason here.
        "flags": "[]",
    }


# ``update`` is not handed the principal (TableWriter.update takes none), yet an edit is
# judged against the pusher's communities: ``owner_matches``, which sync.services calls
# before every update, keeps it for the push.
_PUSHER_KEY = "sync.class_sessions.pusher"


class ClassSessionWriter:
    roles = PULLERS

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            return sessions.clean_session(raw)
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def owner_matches(self, row: ClassSession, principal: Principal) -> bool:
        session = object_session(row)
        if session is not None:
            session.info[_PUSHER_KEY] = principal
        return row.submitted_by_id == principal.user_id

    def new_row(
        self,
        session: Session,
        principal: Principal,
        record_id: str,
        values: dict[str, Any],
        digest: str,
        receipt: Receipt,
        batch: Mapping[str, dict[str, Any]],
    ) -> dict[str, Any]:
        try:
            return sessions.new_session_row(
                session,
                principal,
                record_id=record_id,
                values=values,
                digest=digest,
                receipt=receipt,
                pending=batch.values(),
            )
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def update(
        self, session: Session, row: ClassSession, values: dict[str, Any], digest: str
    ) -> None:
        principal: Principal = session.info[_PUSHER_KEY]
        assert principal.user_id == row.submitted_by_id  # owner_matches held
        try:
            sessions.amend_session(session, principal, row, values, digest)
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def mark_rejected_update(self, row: ClassSession, reason: str) -> None:
        """Nothing to mark: the stored form is sent back on the next pull as it is."""

    def delete(self, row: ClassSession, receipt: Receipt) -> None:
        sessions.withdraw_session(row, receipt.received_at)

    def prepare_new(
        self, session: Session, principal: Principal, rows: list[dict[str, Any]]
    ) -> None:
        """Nothing to work out before insert: completeness needs the rows (after_write)."""

    def delete_new(self, row: dict[str, Any], receipt: Receipt) -> None:
        row["deleted_at"] = receipt.received_at

    def after_write(self, session: Session, principal: Principal, record_ids: list[str]) -> None:
        session.info.pop(_PUSHER_KEY, None)
        sessions.after_push(session, principal, record_ids)


def _session_column(name: str, wire: WireType, doc: str = "", *, optional: bool = True) -> Column:
    return Column(name, wire, optional=optional, since=VERSION, doc=doc)


CLASS_SESSIONS = SyncTable(
    name="class_sessions",
    model=ClassSession,
    since=VERSION,
    doc="Class report forms (课堂信息汇报表) of synchronized classes. Pushed by teachers"
    " and school admins of the community; reviewed by the bureau.",
    columns=(
        _session_column("community_id", "string", "a community you are in", optional=False),
        _session_column("timetable_entry_id", "string", "the timetable entry taught, if any"),
        _session_column("day", "string", "YYYY-MM-DD, not in the future", optional=False),
        _session_column("subject", "string", "≤ 50 characters", optional=False),
        _session_column("topic", "string", "≤ 200 characters; needed to be complete"),
        _session_column("lead_school_id", "string", "a member school", optional=False),
        _session_column("lead_teacher_id", "string"),
        _session_column("lead_class_name", "string"),
        _session_column("lead_student_count", "number"),
        _session_column("duration_minutes", "number", "1–600", optional=False),
        _session_column(
            "connection_quality", "string", "good | fair | poor | failed", optional=False
        ),
        _session_column("problems", "string", "≤ 2000 characters"),
        _session_column("discussion", "string", "post-class discussion record (课后研讨)"),
        _session_column(
            "participants",
            "string",
            "JSON array of {school_id, class_name, student_count, photo_ids} (≥ 1)",
        ),
        _session_column("lead_photo_ids", "string", "JSON array of photo upload ids"),
        _owned("submitted_by_id", "string", "the user who filed it"),
        _owned("received_at", "number", "server epoch ms of receipt"),
        _owned("complete", "boolean", "lead and every receiving class photographed, all filled"),
        _owned("missing", "string", "JSON array of what is missing, in Chinese and English"),
        _owned("photo_states", "string", "JSON object photo id → expected | uploading | …"),
        _owned("review_status", "string", "submitted | verified | rejected"),
        _owned("review_reason", "string", "why it was rejected"),
        _owned("revision", "number", "the version under review; an edit makes a new one"),
        _owned("status", "string", "accepted; quarantined on echoes"),
        _owned("flags", "string", '"[]"; on a quarantine echo, [{code, reason}]'),
    ),
    rows_for=_sessions_for,
    to_wire=_session_wire,
    writer=ClassSessionWriter(),
)
