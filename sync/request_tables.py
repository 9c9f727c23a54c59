"""The synced tables of schema version 2: a teacher's leave requests and punch corrections.

Phones create and edit them offline; the writers apply each record through
``backend.attendance.requests``, so every rule holds as it does on the API, and a record
that breaks one is quarantined with the rule's code as the reason (``overlapping_leave``,
``correction_cap_reached``…). The decision is the host school's: status, decision and
placement columns are server-owned. Withdrawing is cancelling — pushing ``status:
"cancelled"``, or deleting the record — never erasing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from backend import clock
from backend.attendance import daybook, requests
from backend.attendance import request_inputs as inputs
from backend.attendance.request_models import LeaveRequest, PunchCorrection
from backend.attendance.services import Receipt
from backend.auth.policy import Principal
from backend.clock import epoch_ms
from backend.db import utcnow
from backend.errors import DomainError
from sync.registry import Column, Rejected, SyncTable

log = logging.getLogger(__name__)

VERSION = 2
# A phone keeps the teacher's requests of the last two months (like check-ins), and every
# pending one however old: it is still waiting for an answer.
WINDOW_DAYS = 62
# The status a phone writes to withdraw a request; any other pushed status is the server's.
CANCEL = "cancelled"

T = TypeVar("T")
Request = LeaveRequest | PunchCorrection


def _rejecting(call: Callable[[], T]) -> T:
    """Run a service call; a broken rule becomes a quarantine with the rule's code."""
    try:
        return call()
    except DomainError as exc:
        raise Rejected(exc.code, exc.message) from exc


def _ms(moment: Any) -> int | None:
    return None if moment is None else epoch_ms(moment)


def _server_wire(row: Request) -> dict[str, Any]:
    return {
        "id": row.id,
        "reason": row.reason,
        "attachment_ids": json.dumps(list(row.attachment_ids), ensure_ascii=False),
        "status": row.status,
        "teacher_id": str(row.teacher_id),
        "host_school_id": str(row.host_school_id),
        "decision_note": row.decision_note,
        "decided_at": _ms(row.decided_at),
        "cancelled_at": _ms(row.cancelled_at),
        "received_at": _ms(row.received_at),
        # Stored requests carry no flags; a quarantine echo carries its reason here.
        "flags": "[]",
    }


def _server_columns() -> tuple[Column, ...]:
    return (
        Column(
            "reason", "string", optional=False, since=VERSION, doc="required, ≤ 1000 characters"
        ),
        Column(
            "attachment_ids",
            "string",
            since=VERSION,
            doc="JSON text of an array of ≤ 10 upload ids",
        ),
        Column(
            "status",
            "string",
            since=VERSION,
            doc='pending | approved | rejected | cancelled (server\'s); push "cancelled" to '
            "withdraw; quarantined on echoes",
        ),
        Column("teacher_id", "string", server_owned=True, since=VERSION),
        Column(
            "host_school_id",
            "string",
            server_owned=True,
            since=VERSION,
            doc="school of the secondment the request falls in",
        ),
        Column("decision_note", "string", server_owned=True, since=VERSION),
        Column("decided_at", "number", server_owned=True, since=VERSION, doc="epoch ms"),
        Column("cancelled_at", "number", server_owned=True, since=VERSION, doc="epoch ms"),
        Column("received_at", "number", server_owned=True, since=VERSION, doc="epoch ms"),
        Column(
            "flags",
            "string",
            server_owned=True,
            since=VERSION,
            doc='"[]"; on a quarantine echo, [{code, reason}]',
        ),
    )


class _RequestWriter:
    """What both tables share: attribution, cancelling, and no-op replays."""

    roles = frozenset({"teacher"})
    model: type[Request]

    def owner_matches(self, row: Request, principal: Principal) -> bool:
        return row.teacher_id == principal.teacher_id

    def _withdraw(self, session: Session, row: Request) -> None:
        """Cancel as the teacher; the days it counted on are re-derived in after_write."""
        days = requests.withdraw(row, by_teacher=True, today=clock.today())
        if days:
            owed = session.info.setdefault(self._owed_key, [])
            owed.append((row.teacher_id, days, requests.cancelled_cause(row)))

    def _cancel(self, session: Session, row: Request) -> None:
        if row.status != CANCEL:
            _rejecting(lambda: self._withdraw(session, row))

    def mark_rejected_update(self, row: Request, reason: str) -> None:
        """Nothing to mark: the stored request is sent back on the next pull as it is."""

    def delete(self, row: Request, receipt: Receipt) -> None:
        """A phone deleted the request: cancel it. It is never erased, so it always comes
        back to the phone (as cancelled, or unchanged where it could not be cancelled)."""
        session = object_session(row)
        assert session is not None
        try:
            if row.status != CANCEL:
                self._withdraw(session, row)
                return
        except DomainError as exc:
            # sync.services does not quarantine a refused delete (it calls delete()
            # outside its quarantine); the refusal is logged, and the row is touched so
            # that the next pull sends it back to the phone that dropped it.
            log.info("refused to cancel %s %s on delete: %s", self.model.__name__, row.id, exc)
        row.updated_at = utcnow()

    def delete_new(self, row: dict[str, Any], receipt: Receipt) -> None:
        row["status"] = CANCEL
        row["cancelled_at"] = receipt.received_at

    def prepare_new(
        self, session: Session, principal: Principal, rows: list[dict[str, Any]]
    ) -> None:
        # The push's new rows are complete; an update in a later push has no batch to see.
        session.info.pop(self._batch_key, None)

    def after_write(self, session: Session, principal: Principal, record_ids: list[str]) -> None:
        # Days are re-derived only now, once the push holds the journal: recompute takes
        # it, and it must come after every row lock the push takes (see daybook).
        for teacher_id, days, cause in session.info.pop(self._owed_key, []):
            daybook.recompute(session, teacher_id, days, cause)

    @property
    def _owed_key(self) -> str:
        return f"sync.rederive.{self.model.__tablename__}"

    # ``update`` is not handed the push's new rows (TableWriter.update takes no batch), yet
    # an edit must not overlap a request created earlier in the same push: ``new_row``
    # keeps a reference to the batch, which sync.services goes on filling, for ``update``.
    @property
    def _batch_key(self) -> str:
        return f"sync.batch.{self.model.__tablename__}"

    def _remember(self, session: Session, batch: Mapping[str, dict[str, Any]]) -> None:
        session.info[self._batch_key] = batch

    def _batch(self, session: Session) -> Mapping[str, dict[str, Any]]:
        batch: Mapping[str, dict[str, Any]] = session.info.get(self._batch_key, {})
        return batch


# --- leave_requests ---------------------------------------------------------------------------


def _leave_requests_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "teacher":
        return None
    since = clock.today() - timedelta(days=WINDOW_DAYS)
    return sa.select(LeaveRequest).where(
        LeaveRequest.teacher_id == p.teacher_id,
        LeaveRequest.deleted_at.is_(None),
        # By the last day, so a long leave still running stays on the phone.
        sa.or_(LeaveRequest.status == "pending", LeaveRequest.end_on >= since),
    )


def _leave_wire(row: LeaveRequest) -> dict[str, Any]:
    return {
        **_server_wire(row),
        "leave_type": row.leave_type,
        "start_on": row.start_on.isoformat(),
        "start_half": row.start_half,
        "end_on": row.end_on.isoformat(),
        "end_half": row.end_half,
    }


class LeaveRequestWriter(_RequestWriter):
    model = LeaveRequest

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        data = _rejecting(lambda: inputs.clean_leave(raw))
        return {**data.values(), "cancel": raw.get("status") == CANCEL}

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
        self._remember(session, batch)
        return _rejecting(
            lambda: requests.pushed_leave_row(
                session,
                principal,
                record_id,
                inputs.clean_leave(values),
                cancelled=values["cancel"],
                digest=digest,
                receipt=receipt,
                batch=batch,
            )
        )

    def update(
        self, session: Session, row: LeaveRequest, values: dict[str, Any], digest: str
    ) -> None:
        data = _rejecting(lambda: inputs.clean_leave(values))
        if values["cancel"]:
            self._cancel(session, row)
        elif data != inputs.stored_leave(row):
            batch = self._batch(session)
            _rejecting(lambda: requests.edit_leave(session, row, data, batch=batch))
        row.client_digest = digest


LEAVE_REQUESTS = SyncTable(
    name="leave_requests",
    model=LeaveRequest,
    since=VERSION,
    doc="The teacher's leave requests (请假). Pushed by teachers; decided by the host school.",
    columns=(
        Column("leave_type", "string", optional=False, since=VERSION, doc="a rules' type code"),
        Column("start_on", "string", optional=False, since=VERSION, doc="YYYY-MM-DD"),
        Column("start_half", "string", since=VERSION, doc='"am" (default) or "pm"'),
        Column("end_on", "string", optional=False, since=VERSION, doc="YYYY-MM-DD, inclusive"),
        Column("end_half", "string", since=VERSION, doc='"am" or "pm" (default)'),
        *_server_columns(),
    ),
    rows_for=_leave_requests_for,
    to_wire=_leave_wire,
    writer=LeaveRequestWriter(),
)


# --- punch_corrections ------------------------------------------------------------------------


def _punch_corrections_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "teacher":
        return None
    since = clock.today() - timedelta(days=WINDOW_DAYS)
    return sa.select(PunchCorrection).where(
        PunchCorrection.teacher_id == p.teacher_id,
        PunchCorrection.deleted_at.is_(None),
        sa.or_(PunchCorrection.status == "pending", PunchCorrection.day >= since),
    )


def _correction_wire(row: PunchCorrection) -> dict[str, Any]:
    return {
        **_server_wire(row),
        "day": row.day.isoformat(),
        "kind": row.kind,
        "time": inputs.local_time(row.punched_at),
        "punched_at": epoch_ms(row.punched_at),
    }


class PunchCorrectionWriter(_RequestWriter):
    model = PunchCorrection

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        data = _rejecting(lambda: inputs.clean_correction(raw))
        return {**data.values(), "cancel": raw.get("status") == CANCEL}

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
        self._remember(session, batch)
        return _rejecting(
            lambda: requests.pushed_correction_row(
                session,
                principal,
                record_id,
                inputs.clean_correction(values),
                clock.today(),  # the day the server receives it: see requests' docstring
                cancelled=values["cancel"],
                digest=digest,
                receipt=receipt,
                batch=batch,
            )
        )

    def update(
        self, session: Session, row: PunchCorrection, values: dict[str, Any], digest: str
    ) -> None:
        data = _rejecting(lambda: inputs.clean_correction(values))
        if values["cancel"]:
            self._cancel(session, row)
        elif data != inputs.stored_correction(row):
            batch = self._batch(session)
            _rejecting(
                lambda: requests.edit_correction(session, row, data, clock.today(), batch=batch)
            )
        row.client_digest = digest


PUNCH_CORRECTIONS = SyncTable(
    name="punch_corrections",
    model=PunchCorrection,
    since=VERSION,
    doc="The teacher's punch corrections (补卡). Pushed by teachers; decided by the host school.",
    columns=(
        Column("day", "string", optional=False, since=VERSION, doc="YYYY-MM-DD"),
        Column("kind", "string", optional=False, since=VERSION, doc='"in" or "out"'),
        Column("time", "string", optional=False, since=VERSION, doc="HH:MM, China time"),
        *_server_columns(),
        Column("punched_at", "number", server_owned=True, since=VERSION, doc="the time, epoch ms"),
    ),
    rows_for=_punch_corrections_for,
    to_wire=_correction_wire,
    writer=PunchCorrectionWriter(),
)
