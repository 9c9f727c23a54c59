"""Leave requests (请假) and punch corrections (补卡): every rule about them, in one place.

The API (``requests_api``) and the phones' sync writers (``sync.request_tables``) both call
these functions, so a rule holds however a request arrives. Values are cleaned, and the
errors defined, in ``request_inputs``: each has a specific ``code``, which the API answers
(422 or 409) and sync quarantines the record with as its reason.

Leave (003 §四(三)4: "请假按教育局规定执行" — the types are the bureau's, see ``rules``):

- the type is one of the rules in force at the host school on the first day;
- the range (half days: ``am``/``pm``) lies within one active secondment, which gives the
  request its ``secondment_id`` and ``host_school_id``, and has at least one workday;
- live leave (pending or approved) of one teacher never overlaps, to the half day. On
  PostgreSQL the exclusion constraint ``ex_leave_requests_no_overlap`` guards against a
  concurrent writer; the check here names the other request.

Punch corrections:

- the day is a workday of a secondment, not in the future, and no older than the rules'
  window, counted back from the server's own date (China time) when the request arrives:
  a phone's clock is not trusted, and a phone that was offline finds the window as it
  stands when its record reaches the server;
- at most ``corrections_per_month`` live corrections per teacher per calendar month: the
  teacher's row is locked (``FOR UPDATE``) before counting, so two requests cannot both
  take the last place (SQLite's single writer does the same);
- one live correction per teacher, day and punch kind (a partial unique index too).

Only a pending request may be edited or decided. The teacher may cancel a pending request
at any time and an approved one only before its first day; the host school (who approved
it) may also withdraw an approved one later. Whatever changes a day's inputs — an
approval, or the cancellation of an approved request — re-derives those days
(``daybook.recompute``) in the same transaction. Services flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.attendance import calendar, daybook
from backend.attendance.request_inputs import (
    CLIENT_ID,
    REASON_MAX,
    RULE,
    AlreadyCancelled,
    AlreadyDecided,
    CorrectionCapReached,
    CorrectionInput,
    CorrectionWindowExceeded,
    DayInFuture,
    DuplicateCorrection,
    IdInUse,
    InvalidRequestField,
    LeaveInput,
    NoActiveSecondment,
    NotAWorkday,
    NotCancellable,
    NoWorkdayInRange,
    OverlappingLeave,
    UnknownLeaveType,
    clean_correction,
    clean_leave,
    correction_values,
    leave_values,
)
from backend.attendance.request_models import LIVE_STATUSES, LeaveRequest, PunchCorrection
from backend.attendance.rules import rules_on
from backend.attendance.services import Receipt
from backend.auth.policy import Action, Principal, Resource, in_scope, scope
from backend.db import utcnow
from backend.errors import Conflict, DomainError, InvalidInput
from backend.exchange.models import Secondment, Teacher

_OVERLAP_CONSTRAINT = "ex_leave_requests_no_overlap"
_LIVE_CORRECTION_INDEX = "uq_punch_corrections_live"

Request = LeaveRequest | PunchCorrection


# --- rules that read the database ---------------------------------------------------------


def _secondment_covering(
    session: Session, teacher_id: uuid.UUID, start: date, end: date
) -> Secondment:
    secondment = session.scalars(
        sa.select(Secondment)
        .where(
            Secondment.teacher_id == teacher_id,
            Secondment.status == "active",
            Secondment.deleted_at.is_(None),
            Secondment.start_on <= start,
            Secondment.end_on >= end,
        )
        .order_by(Secondment.start_on)
        .limit(1)
    ).first()
    if secondment is None:
        span = f"{start}" if start == end else f"{start} to {end}"
        raise NoActiveSecondment(
            f"{span} is not within one active secondment of the teacher", rule=RULE
        )
    return secondment


def _lock_teacher(session: Session, teacher_id: uuid.UUID) -> None:
    """Serialize one teacher's counted requests (a no-op on SQLite, whose writer is single)."""
    session.execute(sa.select(Teacher.id).where(Teacher.id == teacher_id).with_for_update())


def _describe_leave(other: Mapping[str, Any]) -> str:
    return (
        f"leave request {other['id']} ({other['start_on']} {other['start_half']} to"
        f" {other['end_on']} {other['end_half']}, {other['status']})"
    )


def _leave_clash(
    session: Session, teacher_id: uuid.UUID, first: int, last: int, exclude_id: str | None
) -> LeaveRequest | None:
    stmt = sa.select(LeaveRequest).where(
        LeaveRequest.teacher_id == teacher_id,
        LeaveRequest.status.in_(LIVE_STATUSES),
        LeaveRequest.deleted_at.is_(None),
        LeaveRequest.first_half <= last,
        LeaveRequest.last_half >= first,
    )
    if exclude_id is not None:
        stmt = stmt.where(LeaveRequest.id != exclude_id)
    return session.scalars(stmt.order_by(LeaveRequest.first_half).limit(1)).first()


def _overlap_error(other: Mapping[str, Any] | None) -> OverlappingLeave:
    if other is None:  # the constraint fired, but the rival is gone again (cancelled)
        return OverlappingLeave("overlaps another live leave request of the teacher", None)
    return OverlappingLeave(
        f"overlaps {_describe_leave(other)}; cancel or change that one first", str(other["id"])
    )


def _as_dict(row: LeaveRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        "start_on": row.start_on,
        "start_half": row.start_half,
        "end_on": row.end_on,
        "end_half": row.end_half,
        "status": row.status,
    }


def _live(row: Mapping[str, Any]) -> bool:
    return row["status"] in LIVE_STATUSES and row.get("deleted_at") is None


def check_leave(
    session: Session,
    teacher_id: uuid.UUID,
    data: LeaveInput,
    *,
    exclude_id: str | None = None,
    batch: Mapping[str, Mapping[str, Any]] | None = None,
    live: bool = True,
) -> Secondment:
    """Every database rule of a leave request; the secondment it falls in.

    ``batch``: rows a sync push is about to insert (not stored yet). ``live=False`` for a
    request created already cancelled: it blocks nothing, so only where it belongs counts.
    """
    secondment = _secondment_covering(session, teacher_id, data.start_on, data.end_on)
    if not live:
        return secondment
    rules = rules_on(session, secondment.host_school_id, data.start_on)
    if rules.leave_type(data.leave_type) is None:
        codes = ", ".join(t.code for t in rules.leave_types)
        raise UnknownLeaveType(
            f"leave_type {data.leave_type!r} is not a leave type of the host school's rules"
            f" ({codes})",
            rule=RULE,
            field="leave_type",
        )
    days = calendar.workdays(session, secondment.host_school_id, data.start_on, data.end_on)
    if not any(d.workday for d in days):
        raise NoWorkdayInRange(
            f"{data.start_on} to {data.end_on} has no workday at the host school: no leave is"
            " needed",
            rule=RULE,
        )
    clash = _leave_clash(session, teacher_id, data.first_half, data.last_half, exclude_id)
    if clash is not None:
        raise _overlap_error(_as_dict(clash))
    for other in (batch or {}).values():
        if (
            other["id"] != exclude_id
            and _live(other)
            and other["first_half"] <= data.last_half
            and other["last_half"] >= data.first_half
        ):
            raise _overlap_error(other)
    return secondment


def _month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return first, after - timedelta(days=1)


def check_correction(
    session: Session,
    teacher_id: uuid.UUID,
    data: CorrectionInput,
    today: date,
    *,
    exclude_id: str | None = None,
    batch: Mapping[str, Mapping[str, Any]] | None = None,
    live: bool = True,
) -> Secondment:
    """Every database rule of a punch correction; the secondment its day falls in.

    ``today``: the server's date (China time) when the request arrived — never the phone's.
    """
    if data.day > today:
        raise DayInFuture(f"{data.day} is in the future: a correction is for a missed punch")
    secondment = _secondment_covering(session, teacher_id, data.day, data.day)
    if not live:
        return secondment
    rules = rules_on(session, secondment.host_school_id, data.day)
    oldest = today - timedelta(days=rules.correction_window_days)
    if data.day < oldest:
        raise CorrectionWindowExceeded(
            f"a punch is corrected within {rules.correction_window_days} days (from {oldest}"
            f" on, counted from the server's date {today}); {data.day} is older",
            rule=RULE,
        )
    if not calendar.day_info(session, secondment.host_school_id, data.day).workday:
        raise NotAWorkday(f"{data.day} is not a workday at the host school", rule=RULE)
    # Locked before anything is counted: see the module docstring.
    _lock_teacher(session, teacher_id)
    batch_rows = [r for r in (batch or {}).values() if r["id"] != exclude_id and _live(r)]
    if any(r["day"] == data.day and r["kind"] == data.kind for r in batch_rows) or (
        _live_corrections(session, teacher_id, data.day, data.day, exclude_id, kind=data.kind)
    ):
        raise DuplicateCorrection(
            f"a {data.kind!r} correction of {data.day} is already pending or approved"
        )
    first, last = _month(data.day)
    used = _live_corrections(session, teacher_id, first, last, exclude_id) + sum(
        first <= r["day"] <= last for r in batch_rows
    )
    if used >= rules.corrections_per_month:
        raise CorrectionCapReached(
            f"at most {rules.corrections_per_month} punch corrections a month; "
            f"{used} of {first:%Y-%m} are pending or approved",
            rule=RULE,
        )
    return secondment


def _live_corrections(
    session: Session,
    teacher_id: uuid.UUID,
    first: date,
    last: date,
    exclude_id: str | None,
    *,
    kind: str | None = None,
) -> int:
    stmt = sa.select(sa.func.count()).where(
        PunchCorrection.teacher_id == teacher_id,
        PunchCorrection.status.in_(LIVE_STATUSES),
        PunchCorrection.deleted_at.is_(None),
        PunchCorrection.day.between(first, last),
    )
    if kind is not None:
        stmt = stmt.where(PunchCorrection.kind == kind)
    if exclude_id is not None:
        stmt = stmt.where(PunchCorrection.id != exclude_id)
    return int(session.scalar(stmt) or 0)


# --- creating -------------------------------------------------------------------------------


def _filer_teacher(
    session: Session, principal: Principal, teacher_id: uuid.UUID | None
) -> uuid.UUID:
    """Whose request this is: a teacher files their own; an admin names one they see."""
    if principal.role == "teacher":
        assert principal.teacher_id is not None
        if teacher_id is not None and teacher_id != principal.teacher_id:
            raise InvalidInput(f"teacher {teacher_id} not found in your scope", field="teacher_id")
        return principal.teacher_id
    if teacher_id is None:
        raise InvalidRequestField("teacher_id", "is required (the teacher the request is for)")
    if not in_scope(session, principal, Resource.TEACHER, Action.READ, teacher_id):
        raise InvalidInput(f"teacher {teacher_id} not found in your scope", field="teacher_id")
    return teacher_id


def _record_id(session: Session, model: type[Request], record_id: str | None) -> str:
    if record_id is None:
        return uuid.uuid4().hex
    if not CLIENT_ID.fullmatch(record_id):
        raise InvalidRequestField("id", "1–64 of A–Z a–z 0–9 _ . -")
    if session.get(model, record_id) is not None:
        raise IdInUse(f"id {record_id!r} is in use", field="id")
    return record_id


def _ensure_writable(session: Session, principal: Principal, row: Request) -> None:
    """The caller may write the request as it now stands (its host school is theirs)."""
    model = type(row)
    resource = Resource.LEAVE_REQUEST if model is LeaveRequest else Resource.PUNCH_CORRECTION
    condition = scope(principal, resource, Action.WRITE)
    if not session.scalar(sa.select(sa.exists().where(model.id == row.id, condition))):
        raise InvalidInput(
            f"teacher {row.teacher_id} not found in your scope for these dates", field="teacher_id"
        )


@contextmanager
def _guarded(
    session: Session, translate: Callable[[IntegrityError], DomainError | None]
) -> Iterator[None]:
    """Make changes and flush them in a savepoint; a constraint the database caught (a
    concurrent writer) becomes the same error the checks give."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc


def _leave_constraint(
    session: Session, teacher_id: uuid.UUID, data: LeaveInput, exclude_id: str | None
) -> Callable[[IntegrityError], DomainError | None]:
    def translate(exc: IntegrityError) -> DomainError | None:
        if _OVERLAP_CONSTRAINT not in str(exc.orig):
            return None
        # The rival committed while we checked: it is visible now.
        clash = _leave_clash(session, teacher_id, data.first_half, data.last_half, exclude_id)
        return _overlap_error(None if clash is None else _as_dict(clash))

    return translate


def _correction_constraint(data: CorrectionInput) -> Callable[[IntegrityError], DomainError]:
    def translate(exc: IntegrityError) -> DomainError:
        message = str(exc.orig)
        if _LIVE_CORRECTION_INDEX in message or "punch_corrections.teacher_id" in message:
            return DuplicateCorrection(
                f"a {data.kind!r} correction of {data.day} is already pending or approved"
            )
        return Conflict("The change conflicts with data stored meanwhile; retry.")

    return translate


def _common(
    record_id: str, teacher_id: uuid.UUID, secondment: Secondment, filed_by: uuid.UUID | None
) -> dict[str, Any]:
    return {
        "id": record_id,
        "teacher_id": teacher_id,
        "secondment_id": secondment.id,
        "host_school_id": secondment.host_school_id,
        "status": "pending",
        "decided_by_id": None,
        "decided_at": None,
        "decision_note": "",
        "cancelled_at": None,
        "filed_by_id": filed_by,
    }


def file_leave(
    session: Session,
    principal: Principal,
    data: LeaveInput,
    *,
    teacher_id: uuid.UUID | None = None,
    record_id: str | None = None,
) -> LeaveRequest:
    """A leave request filed through the API (by the teacher, or for them by an admin)."""
    teacher = _filer_teacher(session, principal, teacher_id)
    new_id = _record_id(session, LeaveRequest, record_id)
    secondment = check_leave(session, teacher, data)
    row = LeaveRequest(
        **_common(new_id, teacher, secondment, principal.user_id),
        **data.columns(),
        received_at=utcnow(),
        device_pk=principal.device_pk,
        client_digest="",
    )
    with _guarded(session, _leave_constraint(session, teacher, data, None)):
        session.add(row)
    _ensure_writable(session, principal, row)
    return row


def file_correction(
    session: Session,
    principal: Principal,
    data: CorrectionInput,
    today: date,
    *,
    teacher_id: uuid.UUID | None = None,
    record_id: str | None = None,
) -> PunchCorrection:
    """A punch correction filed through the API."""
    teacher = _filer_teacher(session, principal, teacher_id)
    new_id = _record_id(session, PunchCorrection, record_id)
    secondment = check_correction(session, teacher, data, today)
    row = PunchCorrection(
        **_common(new_id, teacher, secondment, principal.user_id),
        **data.columns(),
        received_at=utcnow(),
        device_pk=principal.device_pk,
        client_digest="",
    )
    with _guarded(session, _correction_constraint(data)):
        session.add(row)
    _ensure_writable(session, principal, row)
    return row


def _pushed_row(
    record_id: str,
    teacher_id: uuid.UUID,
    secondment: Secondment,
    principal: Principal,
    columns: dict[str, Any],
    *,
    cancelled: bool,
    digest: str,
    receipt: Receipt,
) -> dict[str, Any]:
    return {
        **_common(record_id, teacher_id, secondment, principal.user_id),
        **columns,
        "status": "cancelled" if cancelled else "pending",
        "cancelled_at": receipt.received_at if cancelled else None,
        "received_at": receipt.received_at,
        "device_pk": receipt.device_pk,
        "client_digest": digest,
        "created_at": receipt.received_at,
        "updated_at": receipt.received_at,
        "deleted_at": None,
    }


def pushed_leave_row(
    session: Session,
    principal: Principal,
    record_id: str,
    data: LeaveInput,
    *,
    cancelled: bool,
    digest: str,
    receipt: Receipt,
    batch: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Every column of a leave request a phone created (sync inserts these in bulk)."""
    assert principal.teacher_id is not None
    secondment = check_leave(session, principal.teacher_id, data, batch=batch, live=not cancelled)
    return _pushed_row(
        record_id,
        principal.teacher_id,
        secondment,
        principal,
        data.columns(),
        cancelled=cancelled,
        digest=digest,
        receipt=receipt,
    )


def pushed_correction_row(
    session: Session,
    principal: Principal,
    record_id: str,
    data: CorrectionInput,
    today: date,
    *,
    cancelled: bool,
    digest: str,
    receipt: Receipt,
    batch: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Every column of a punch correction a phone created."""
    assert principal.teacher_id is not None
    secondment = check_correction(
        session, principal.teacher_id, data, today, batch=batch, live=not cancelled
    )
    return _pushed_row(
        record_id,
        principal.teacher_id,
        secondment,
        principal,
        data.columns(),
        cancelled=cancelled,
        digest=digest,
        receipt=receipt,
    )


# --- editing --------------------------------------------------------------------------------


def _noun(row: Request) -> str:
    return "leave request" if isinstance(row, LeaveRequest) else "punch correction"


def _require_pending(row: Request, doing: str) -> None:
    if row.status == "cancelled":
        raise AlreadyCancelled(f"{_noun(row)} {row.id} is cancelled; it cannot be {doing}")
    if row.status != "pending":
        raise AlreadyDecided(
            f"{_noun(row)} {row.id} is already {row.status}; only a pending one can be {doing}"
        )


def edit_leave(
    session: Session,
    row: LeaveRequest,
    data: LeaveInput,
    *,
    batch: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Change a pending request to ``data``, re-checked whole (not flushed)."""
    _require_pending(row, "edited")
    secondment = check_leave(session, row.teacher_id, data, exclude_id=row.id, batch=batch)
    for name, value in data.columns().items():
        setattr(row, name, value)
    row.secondment_id = secondment.id
    row.host_school_id = secondment.host_school_id


def edit_correction(
    session: Session,
    row: PunchCorrection,
    data: CorrectionInput,
    today: date,
    *,
    batch: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    _require_pending(row, "edited")
    secondment = check_correction(
        session, row.teacher_id, data, today, exclude_id=row.id, batch=batch
    )
    for name, value in data.columns().items():
        setattr(row, name, value)
    row.secondment_id = secondment.id
    row.host_school_id = secondment.host_school_id


def revise_leave(
    session: Session, principal: Principal, row: LeaveRequest, changes: Mapping[str, Any]
) -> LeaveRequest:
    """The API's edit: ``changes`` over the stored values, checked and flushed."""
    data = clean_leave({**leave_values(row), **changes})
    with _guarded(session, _leave_constraint(session, row.teacher_id, data, row.id)):
        edit_leave(session, row, data)
        row.client_digest = ""  # no longer what a phone last pushed
    _ensure_writable(session, principal, row)
    return row


def revise_correction(
    session: Session,
    principal: Principal,
    row: PunchCorrection,
    changes: Mapping[str, Any],
    today: date,
) -> PunchCorrection:
    data = clean_correction({**correction_values(row), **changes})
    with _guarded(session, _correction_constraint(data)):
        edit_correction(session, row, data, today)
        row.client_digest = ""
    _ensure_writable(session, principal, row)
    return row


# --- deciding and cancelling ----------------------------------------------------------------


def _days(row: Request) -> list[date]:
    if isinstance(row, PunchCorrection):
        return [row.day]
    return [row.start_on + timedelta(days=i) for i in range((row.end_on - row.start_on).days + 1)]


def _first_day(row: Request) -> date:
    return row.day if isinstance(row, PunchCorrection) else row.start_on


def decide(
    session: Session, principal: Principal, row: Request, *, approve: bool, note: str = ""
) -> Request:
    """The host school approves or rejects a pending request (a rejection says why)."""
    _require_pending(row, "decided")
    note = note.strip()
    if not approve and not note:
        raise InvalidRequestField("note", "a rejection needs a reason for the teacher")
    if len(note) > REASON_MAX:
        raise InvalidRequestField("note", f"is longer than {REASON_MAX} characters")
    row.status = "approved" if approve else "rejected"
    row.decided_by_id = principal.user_id
    row.decided_at = utcnow()
    row.decision_note = note
    session.flush()
    if approve:
        daybook.recompute(session, row.teacher_id, _days(row), f"{_noun(row)} {row.id} approved")
    return row


def withdraw(row: Request, *, by_teacher: bool, today: date) -> list[date]:
    """Cancel a request, unflushed; the days to re-derive (none unless it counted).

    The teacher withdraws a pending request at any time and an approved one before its
    first day (``today``: the server's date, China time); the host school may withdraw an
    approved one later too, since it approved it.
    """
    if row.status == "cancelled":
        raise AlreadyCancelled(f"{_noun(row)} {row.id} is already cancelled")
    if row.status == "rejected":
        raise AlreadyDecided(f"{_noun(row)} {row.id} was rejected; there is nothing to cancel")
    approved = row.status == "approved"
    if approved and by_teacher and _first_day(row) <= today:
        raise NotCancellable(
            f"{_noun(row)} {row.id} is approved and began on {_first_day(row)}; only the host"
            " school can withdraw it now",
            rule=RULE,
        )
    row.status = "cancelled"
    row.cancelled_at = utcnow()
    return _days(row) if approved else []


def cancelled_cause(row: Request) -> str:
    """What a re-derived day records as the reason it changed."""
    return f"{_noun(row)} {row.id} cancelled"


def cancel(session: Session, row: Request, *, by_teacher: bool, today: date) -> Request:
    """:func:`withdraw`, flushed, and its days re-derived."""
    days = withdraw(row, by_teacher=by_teacher, today=today)
    session.flush()
    if days:
        daybook.recompute(session, row.teacher_id, days, cancelled_cause(row))
    return row
