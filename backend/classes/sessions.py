"""Class report forms (课堂信息汇报表, 003 §四(四)): filing, editing and withdrawing them,
whether they come from a phone's sync or from the API, and whether each is complete.

One set of rules, whichever way a form arrives (each broken rule is a :class:`DomainError`
whose ``code`` is sync's quarantine reason):

* the filer belongs to the community (``not_in_community``: a teacher of its schools or
  seconded to it, an admin of one of its schools — the central policy's
  ``CLASS_SESSION`` WRITE scope), and the lead school and every receiving class's school are
  members of it now (``school_not_in_community``);
* the subject is named (≤ 50 characters), the class lasted 1–600 minutes, the connection
  quality is one of ``CONNECTION_QUALITIES``, at least one receiving class with a student
  count ≥ 0, photo ids are client ids, the day is not in the future.

A form is *complete* only when it names a lead classroom photo, at least one photo from
every receiving class, a topic and the post-class discussion record (a photo that failed
processing does not count); ``missing`` says what is not, in Chinese and English words.
Only complete, verified sessions count towards the community's score. Every form is
reviewed (``backend.review``, kind ``class_session``): filing submits it, an edit that
changes its content resubmits it as a new revision, deleting it withdraws it (a tombstone;
it is evidence, never erased). Services flush, never commit.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock, device_values, review
from backend.attendance.services import Receipt
from backend.auth.policy import Action, Principal, Resource, in_scope, scoped_select
from backend.classes import photos
from backend.classes.models import CONNECTION_QUALITIES, ClassSession, TimetableEntry
from backend.classes.timetable import (
    check_schools,
    check_teacher,
    current_members,
    school_year_of,
    scope_covers,
    term_bounds,
    year_bounds,
)
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RuleViolation
from backend.org.models import School
from media.services import note_unsettled, photo_states

KIND = "class_session"
RULE = "003 §四(四)"
# 003 attachment 2: synchronized classes in at least 2 subjects and 16 sessions a school year.
MIN_SUBJECTS = 2
MIN_SESSIONS = 16
SUBJECT_MAX = 50
TOPIC_MAX = 200
CLASS_NAME_MAX = 50
PROBLEMS_MAX = 2000
DISCUSSION_MAX = 4000
MAX_PARTICIPANTS = 20
MAX_PHOTOS = 20  # per classroom
MAX_STUDENTS = 10_000
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

CLIENT_FIELDS = (
    "community_id",
    "timetable_entry_id",
    "day",
    "subject",
    "topic",
    "lead_school_id",
    "lead_teacher_id",
    "lead_class_name",
    "lead_student_count",
    "duration_minutes",
    "connection_quality",
    "problems",
    "discussion",
    "participants",
    "lead_photo_ids",
)
_UUID_FIELDS = ("community_id", "timetable_entry_id", "lead_school_id", "lead_teacher_id")


# --- errors (codes are sync's quarantine reasons) -------------------------------------------------


class InvalidSessionField(InvalidInput):
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class NotInCommunity(RuleViolation):
    code = "not_in_community"


class UnknownTimetableEntry(RuleViolation):
    code = "unknown_timetable_entry"


class DayInFuture(RuleViolation):
    code = "day_in_future"


class DuplicateSession(Conflict):
    code = "duplicate_session"


class SessionIdInUse(Conflict):
    code = "id_in_use"


# --- cleaning (pure) ------------------------------------------------------------------------------


def _text(raw: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    text = (device_values.short_text(raw, name, InvalidSessionField, limit) or "").strip()
    if required and not text:
        raise InvalidSessionField(name, "is required")
    return text


def _count(raw: Mapping[str, Any], name: str, *, optional: bool, top: int) -> int | None:
    value = device_values.integer(raw, name, InvalidSessionField, optional=optional)
    if value is not None and not 0 <= value <= top:
        raise InvalidSessionField(name, f"must be between 0 and {top}")
    return value


def _uuid_text(value: Any, name: str, *, optional: bool = False) -> str | None:
    if value is None or value == "":
        if optional:
            return None
        raise InvalidSessionField(name, "is required")
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise InvalidSessionField(name, "must be a UUID") from exc


def _json_list(value: Any, name: str) -> list[Any]:
    """A list, sent as JSON text on the sync wire (a list itself is accepted too)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidSessionField(name, "must be JSON text of an array") from exc
    if not isinstance(value, list):
        raise InvalidSessionField(name, "must be an array")
    return value


def _photo_ids(value: Any, name: str) -> list[str]:
    ids = _json_list(value, name)
    for item in ids:
        if not isinstance(item, str) or not _CLIENT_ID.fullmatch(item):
            raise InvalidSessionField(name, "photo ids are 1–64 of A–Z a–z 0–9 _ . -")
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_PHOTOS:
        raise InvalidSessionField(name, f"at most {MAX_PHOTOS} photos")
    return unique


def _participants(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = _json_list(raw.get("participants"), "participants")
    if not items:
        raise InvalidSessionField("participants", "name at least one receiving class")
    if len(items) > MAX_PARTICIPANTS:
        raise InvalidSessionField("participants", f"at most {MAX_PARTICIPANTS} receiving classes")
    cleaned: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        name = f"participants[{index}]"

        def invalid(field: str, message: str, name: str = name) -> InvalidSessionField:
            return InvalidSessionField(f"{name}.{field}", message)

        if not isinstance(item, dict):
            raise InvalidSessionField(
                name, "must be {school_id, class_name, student_count, photo_ids}"
            )
        school_id = _uuid_text(item.get("school_id"), f"{name}.school_id")
        assert school_id is not None
        class_name = (
            device_values.short_text(
                item,
                "class_name",
                invalid,
                CLASS_NAME_MAX,
            )
            or ""
        ).strip()
        if not class_name:
            raise InvalidSessionField(f"{name}.class_name", "is required")
        students = device_values.integer(
            item,
            "student_count",
            invalid,
            optional=False,
        )
        assert students is not None
        if not 0 <= students <= MAX_STUDENTS:
            raise InvalidSessionField(
                f"{name}.student_count", f"must be between 0 and {MAX_STUDENTS}"
            )
        if (school_id, class_name) in seen:
            raise InvalidSessionField(name, "names the same class twice")
        seen.add((school_id, class_name))
        cleaned.append(
            {
                "school_id": school_id,
                "class_name": class_name,
                "student_count": students,
                "photo_ids": _photo_ids(item.get("photo_ids"), f"{name}.photo_ids"),
            }
        )
    return cleaned


def _day(raw: Mapping[str, Any]) -> str:
    value = raw.get("day")
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value or ""))
    except ValueError as exc:
        raise InvalidSessionField("day", "must be YYYY-MM-DD") from exc
    return day.isoformat()


def clean_session(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed, range-checked client values (JSON-able: what sync digests and the review
    trail snapshots), from a phone's record or an API body alike."""
    duration = device_values.integer(raw, "duration_minutes", InvalidSessionField, optional=False)
    assert duration is not None
    if not 1 <= duration <= 600:
        raise InvalidSessionField("duration_minutes", "must be 1–600 minutes")
    quality = raw.get("connection_quality")
    if quality not in CONNECTION_QUALITIES:
        raise InvalidSessionField(
            "connection_quality", f"must be one of {', '.join(CONNECTION_QUALITIES)}"
        )
    return {
        "community_id": _uuid_text(raw.get("community_id"), "community_id"),
        "timetable_entry_id": _uuid_text(
            raw.get("timetable_entry_id"), "timetable_entry_id", optional=True
        ),
        "day": _day(raw),
        "subject": _text(raw, "subject", SUBJECT_MAX, required=True),
        "topic": _text(raw, "topic", TOPIC_MAX),
        "lead_school_id": _uuid_text(raw.get("lead_school_id"), "lead_school_id"),
        "lead_teacher_id": _uuid_text(raw.get("lead_teacher_id"), "lead_teacher_id", optional=True),
        "lead_class_name": _text(raw, "lead_class_name", CLASS_NAME_MAX),
        "lead_student_count": _count(raw, "lead_student_count", optional=True, top=MAX_STUDENTS),
        "duration_minutes": duration,
        "connection_quality": quality,
        "problems": _text(raw, "problems", PROBLEMS_MAX),
        "discussion": _text(raw, "discussion", DISCUSSION_MAX),
        "participants": _participants(raw),
        "lead_photo_ids": _photo_ids(raw.get("lead_photo_ids"), "lead_photo_ids"),
    }


def columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values as the model's columns (UUIDs and dates typed)."""
    typed = dict(values)
    for name in _UUID_FIELDS:
        typed[name] = None if values[name] is None else uuid.UUID(values[name])
    typed["day"] = date.fromisoformat(values["day"])
    return typed


def stored_values(row: ClassSession) -> dict[str, Any]:
    """The stored client values, in :func:`clean_session`'s shape."""
    values = {name: getattr(row, name) for name in CLIENT_FIELDS}
    for name in _UUID_FIELDS:
        values[name] = None if values[name] is None else str(values[name])
    values["day"] = row.day.isoformat()
    values["participants"] = [dict(p) for p in row.participants]
    values["lead_photo_ids"] = list(row.lead_photo_ids)
    return values


# --- rules against the database -------------------------------------------------------------------


def check_session(
    session: Session,
    principal: Principal,
    values: Mapping[str, Any],
    *,
    own_id: str | None = None,
    pending: Iterable[Mapping[str, Any]] = (),
) -> None:
    """The rules a form keeps wherever it comes from (see the module docstring).
    ``own_id``: the form being edited; ``pending``: this push's new forms, not stored yet."""
    community_id = uuid.UUID(values["community_id"])
    if not scope_covers(session, principal, Resource.CLASS_SESSION, Action.WRITE, community_id):
        # Said the same way whether or not the community exists.
        raise NotInCommunity(
            f"you are not in community {community_id}: file reports of your own communities",
            rule=RULE,
        )
    if date.fromisoformat(values["day"]) > clock.today():
        raise DayInFuture(f"day {values['day']} is in the future", field="day")
    check_schools(
        current_members(session, community_id),
        uuid.UUID(values["lead_school_id"]),
        [uuid.UUID(p["school_id"]) for p in values["participants"]],
        "participants",
    )
    lead_teacher = values["lead_teacher_id"]
    check_teacher(session, None if lead_teacher is None else uuid.UUID(lead_teacher))
    entry_id = values["timetable_entry_id"]
    if entry_id is not None:
        found = session.scalar(
            sa.select(TimetableEntry.id).where(
                TimetableEntry.id == uuid.UUID(entry_id),
                TimetableEntry.community_id == community_id,
                TimetableEntry.deleted_at.is_(None),
            )
        )
        if found is None:
            raise UnknownTimetableEntry(
                f"timetable entry {entry_id} is not in the community's timetable",
                field="timetable_entry_id",
            )
        _check_not_filed_twice(session, uuid.UUID(entry_id), values["day"], own_id, pending)


def _check_not_filed_twice(
    session: Session,
    entry_id: uuid.UUID,
    day: str,
    own_id: str | None,
    pending: Iterable[Mapping[str, Any]],
) -> None:
    """One form per lesson of the timetable and day: the lead teacher's phone and a school
    admin's browser filing the same lesson must not count it twice (a partial unique index
    is the guard; this says so clearly first)."""
    filed = session.scalar(
        sa.select(ClassSession.id).where(
            ClassSession.timetable_entry_id == entry_id,
            ClassSession.day == date.fromisoformat(day),
            ClassSession.deleted_at.is_(None),
            ClassSession.id != (own_id or ""),
        )
    ) or next(
        (
            str(row["id"])
            for row in pending
            if str(row.get("timetable_entry_id")) == str(entry_id)
            and str(row.get("day")) == day
            and row.get("deleted_at") is None
        ),
        None,
    )
    if filed is not None:
        raise DuplicateSession(
            f"this lesson (timetable entry {entry_id}, {day}) was already filed as {filed}:"
            " edit that form"
        )


def new_session_row(
    session: Session,
    principal: Principal,
    *,
    record_id: str,
    values: dict[str, Any],
    digest: str,
    receipt: Receipt,
    pending: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Every column of a form as first received (a row to insert in bulk), or a
    :class:`DomainError`. Completeness and the review trail follow in :func:`settle`.
    ``pending``: this push's earlier new forms (not inserted yet)."""
    check_session(session, principal, values, pending=pending)
    return {
        "id": record_id,
        **columns(values),
        "submitted_by_id": principal.user_id,
        "received_at": receipt.received_at,
        "complete": False,
        "missing": [],
        "device_pk": receipt.device_pk,
        "client_digest": digest,
        "review_status": "submitted",
        "revision": 1,
        "reviewed_by_id": None,
        "reviewed_at": None,
        "review_reason": "",
        "created_at": receipt.received_at,
        "updated_at": receipt.received_at,
        "deleted_at": None,
    }


def amend_session(
    session: Session, principal: Principal, row: ClassSession, values: dict[str, Any], digest: str
) -> None:
    """An edit (from the phone or the API): re-checked whole; :func:`settle` resubmits it
    if its content changed."""
    current = stored_values(row)
    if values != current:
        check_session(session, principal, values, own_id=row.id)
        for name, value in columns(values).items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    row.client_digest = digest


def withdraw_session(row: ClassSession, at: datetime) -> None:
    """Deleted on the phone or the API: a tombstone, withdrawn from review in :func:`settle`."""
    if row.deleted_at is None:
        row.deleted_at = at


# --- completeness ---------------------------------------------------------------------------------


def _school_names(session: Session, rows: Iterable[ClassSession]) -> dict[str, str]:
    ids = {uuid.UUID(p["school_id"]) for r in rows for p in r.participants}
    if not ids:
        return {}
    return {
        str(i): name
        for i, name in session.execute(sa.select(School.id, School.name).where(School.id.in_(ids)))
    }


def _usable(
    ids: Iterable[str], states: Mapping[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """Named photos that serve as evidence (received and verified), those still on their
    way (named, not uploaded or not processed yet), and those that cannot serve. Only a
    received photo proves a classroom took part: a form that merely names one is not
    complete, or a session could count with no photo behind it."""
    verified: list[str] = []
    waiting: list[str] = []
    bad: list[str] = []
    for photo_id in ids:
        state = states.get(photo_id, "expected")
        if state == "verified":
            verified.append(photo_id)
        elif state in photos.UNUSABLE:
            bad.append(photo_id)
        else:
            waiting.append(photo_id)
    return verified, waiting, bad


def _photo_note(waiting: list[str], bad: list[str]) -> str:
    note = ""
    if waiting:
        note += (
            f"；照片 {', '.join(waiting)} 尚未上传 (photo {', '.join(waiting)} not received yet)"
        )
    if bad:
        note += f"；照片 {', '.join(bad)} 无法使用 (photo {', '.join(bad)} could not be used)"
    return note


def completeness(
    row: ClassSession, states: Mapping[str, str], school_names: Mapping[str, str]
) -> tuple[bool, list[str]]:
    """Whether the form is complete, and what it lacks, in words the teacher reads."""
    missing: list[str] = []
    good, waiting, bad = _usable(row.lead_photo_ids, states)
    if not good:
        missing.append("主讲课堂照片 (lead classroom photo)" + _photo_note(waiting, bad))
    for p in row.participants:
        good, waiting, bad = _usable(p.get("photo_ids", []), states)
        if not good:
            school = school_names.get(p["school_id"], p["school_id"])
            missing.append(
                f"接收班级 {p['class_name']}（{school}）的照片"
                f" (photo from receiving class {p['class_name']} at school {school})"
                + _photo_note(waiting, bad)
            )
    if not row.topic.strip():
        missing.append("授课主题 (topic)")
    if not row.discussion.strip():
        missing.append("课后研讨记录 (post-class discussion record)")
    return not missing, missing


def refresh(session: Session, rows: Iterable[ClassSession]) -> None:
    """Recompute whether these forms are complete, and claim the photos they name."""
    live = [r for r in rows if r.deleted_at is None]
    names = _school_names(session, live)
    for row in live:
        states = photo_states(session, row.submitted_by_id, photos.photo_ids_of(row))
        note_unsettled(session, row.submitted_by_id, states)
        complete, missing = completeness(row, states, names)
        if (row.complete, row.missing) != (complete, missing):
            row.complete, row.missing = complete, missing
        photos.claim_all(session, row)


# --- the review trail -----------------------------------------------------------------------------


def _trails(
    session: Session, ids: list[str]
) -> tuple[dict[str, review.ReviewEvent], dict[str, review.ReviewEvent]]:
    """Each record's latest event, and its latest submission (the content under review)."""
    latest: dict[str, review.ReviewEvent] = {}
    submitted: dict[str, review.ReviewEvent] = {}
    for event in session.scalars(
        sa.select(review.ReviewEvent)
        .where(review.ReviewEvent.record_kind == KIND, review.ReviewEvent.record_id.in_(ids))
        .order_by(review.ReviewEvent.at, review.ReviewEvent.id)
    ):
        latest[event.record_id] = event
        if event.action in {"submitted", "resubmitted"}:
            submitted[event.record_id] = event
    return latest, submitted


def settle_review(session: Session, rows: Iterable[ClassSession], actor_id: uuid.UUID) -> None:
    """Bring each form's review trail up to date with the form, from the trail itself: a
    form with no trail is submitted, a withdrawn one is withdrawn once, and one whose
    content differs from what was last submitted is resubmitted as a new revision. (Reading
    the trail, not a note of what this request did, makes a retried push settle the same.)"""
    rows = list(rows)
    latest, submitted = _trails(session, [r.id for r in rows])
    for row in rows:
        last = latest.get(row.id)
        if last is None:
            review.submitted(session, KIND, row, actor_id, stored_values(row))
        elif row.deleted_at is not None:
            if last.action != "withdrawn":
                review.withdrawn(session, KIND, row, actor_id)
        else:
            content = submitted.get(row.id)
            current = stored_values(row)
            if content is None or content.snapshot != current:
                review.resubmitted(session, KIND, row, actor_id, current)


def settle(session: Session, actor_id: uuid.UUID, rows: list[ClassSession]) -> None:
    """After a write (flushed): completeness, photos and the review trail."""
    refresh(session, rows)
    settle_review(session, rows, actor_id)
    session.flush()


def after_push(session: Session, principal: Principal, ids: list[str]) -> None:
    """A push stored, changed or withdrew these forms (all written): settle them."""
    session.flush()
    rows = list(
        session.scalars(
            sa.select(ClassSession)
            .where(ClassSession.id.in_(ids), ClassSession.submitted_by_id == principal.user_id)
            .order_by(ClassSession.id)
        )
    )
    settle(session, principal.user_id, rows)


# --- the API's own entry points -------------------------------------------------------------------


def _record_id(session: Session, record_id: str | None) -> str:
    if record_id is None:
        return uuid.uuid4().hex
    if not _CLIENT_ID.fullmatch(record_id):
        raise InvalidSessionField("id", "1–64 of A–Z a–z 0–9 _ . -")
    if session.get(ClassSession, record_id) is not None:
        raise SessionIdInUse(f"id {record_id!r} is in use", field="id")
    return record_id


def file_session(
    session: Session, principal: Principal, data: Mapping[str, Any], record_id: str | None
) -> ClassSession:
    """A form filed through the API (a school admin's or a teacher's browser)."""
    values = clean_session(data)
    new_id = _record_id(session, record_id)
    now = utcnow()
    receipt = Receipt(
        received_at=now,
        device_pk=principal.device_pk,
        device_time=None,
        elapsed_ms=None,
        boot_id=None,
        skew_ms=None,
    )
    row = ClassSession(
        **new_session_row(
            session, principal, record_id=new_id, values=values, digest="", receipt=receipt
        )
    )
    session.add(row)
    session.flush()
    settle(session, principal.user_id, [row])
    return row


def _own_unless_admin(principal: Principal, row: ClassSession) -> None:
    if principal.role == "teacher" and row.submitted_by_id != principal.user_id:
        raise PermissionDenied("a teacher edits only the reports they filed")


def revise_session(
    session: Session, principal: Principal, row: ClassSession, changes: Mapping[str, Any]
) -> ClassSession:
    """Apply a PATCH: the form as it would stand is cleaned and checked whole."""
    _own_unless_admin(principal, row)
    if row.deleted_at is not None:
        raise NotFound(f"No class session {row.id}")
    values = clean_session({**stored_values(row), **changes})
    amend_session(session, principal, row, values, row.client_digest)
    session.flush()
    settle(session, principal.user_id, [row])
    return row


def withdraw(session: Session, principal: Principal, row: ClassSession) -> None:
    _own_unless_admin(principal, row)
    withdraw_session(row, utcnow())
    session.flush()
    settle(session, principal.user_id, [row])


# --- progress towards 003's minimums --------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    community_id: uuid.UUID
    school_year: int
    filed: int
    complete: int
    verified_complete: int
    subjects: dict[str, int]
    sessions_short: int
    subjects_short: int
    terms_left: int
    met: bool


def progress(
    session: Session, principal: Principal, community_id: uuid.UUID, school_year: int | None
) -> Progress:
    """The community's synchronized classes this school year against 003's minimums: only
    complete, verified sessions count."""
    if not in_scope(session, principal, Resource.COMMUNITY, Action.READ, community_id):
        raise NotFound(f"No community {community_id}")
    today = clock.today()
    year = school_year_of(today) if school_year is None else school_year
    first, last = year_bounds(year)
    rows = session.execute(
        scoped_select(principal, Resource.CLASS_SESSION, Action.READ)
        .with_only_columns(ClassSession.subject, ClassSession.complete, ClassSession.review_status)
        .where(
            ClassSession.community_id == community_id,
            ClassSession.deleted_at.is_(None),
            ClassSession.day.between(first, last),
        )
    ).all()
    counted = Counter(s for s, done, status in rows if done and status == "verified")
    verified = sum(counted.values())
    terms_left = sum(1 for term in (1, 2) if term_bounds(year, term)[1] >= today)
    return Progress(
        community_id=community_id,
        school_year=year,
        filed=len(rows),
        complete=sum(1 for _, done, _ in rows if done),
        verified_complete=verified,
        subjects=dict(sorted(counted.items())),
        sessions_short=max(0, MIN_SESSIONS - verified),
        subjects_short=max(0, MIN_SUBJECTS - len(counted)),
        terms_left=terms_left,
        met=verified >= MIN_SESSIONS and len(counted) >= MIN_SUBJECTS,
    )
