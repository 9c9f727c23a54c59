"""A leave request's and a punch correction's client values, cleaned; and the errors that
every request rule raises (``backend.attendance.requests`` has the rules themselves).

Each error is a :class:`~backend.errors.DomainError` with a specific ``code``: the API
answers with it (422 or 409) and sync quarantines a record with it as the reason, so a
phone and the web app learn the same thing about the same mistake. Cleaning is pure: it
takes a JSON-like mapping (the API's parsed body or a pushed record) and gives typed,
frozen values, whose ``values()`` are plain JSON again (what sync digests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from backend.attendance.models import CHECK_IN_KINDS
from backend.attendance.request_models import HALVES, LeaveRequest, PunchCorrection, half_ordinal
from backend.clock import CHINA
from backend.errors import Conflict, InvalidInput, RuleViolation

RULE = "003 §四(三)4"
REASON_MAX = 1000
LEAVE_TYPE_MAX = 32
MAX_ATTACHMENTS = 10
# The sync protocol's id rule (phones make the ids of requests and of their attachments).
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


# --- errors ---------------------------------------------------------------------------------


class InvalidRequestField(InvalidInput):
    """A value that is malformed or missing (sync's quarantine reason ``invalid_field``)."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class UnknownLeaveType(RuleViolation):
    code = "unknown_leave_type"


class NoActiveSecondment(RuleViolation):
    code = "no_active_secondment"


class NoWorkdayInRange(RuleViolation):
    code = "no_workday_in_range"


class NotAWorkday(RuleViolation):
    code = "not_a_workday"


class OverlappingLeave(RuleViolation):
    code = "overlapping_leave"

    def __init__(self, message: str, other_id: str | None) -> None:
        super().__init__(message, rule=RULE)
        self.other_id = other_id


class DayInFuture(RuleViolation):
    code = "day_in_future"


class CorrectionWindowExceeded(RuleViolation):
    code = "correction_window_exceeded"


class CorrectionCapReached(RuleViolation):
    code = "correction_cap_reached"


class DuplicateCorrection(RuleViolation):
    code = "duplicate_correction"


class NotCancellable(RuleViolation):
    code = "not_cancellable"


class AlreadyDecided(Conflict):
    code = "already_decided"


class AlreadyCancelled(Conflict):
    code = "already_cancelled"


class IdInUse(Conflict):
    code = "id_in_use"


# --- cleaning client values -----------------------------------------------------------------


def _date(raw: Mapping[str, Any], name: str) -> date:
    value = raw.get(name)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if value is None or value == "":
        raise InvalidRequestField(name, "is required")
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidRequestField(name, "must be a date, YYYY-MM-DD")


def _choice(raw: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise InvalidRequestField(name, f"must be one of {', '.join(choices)}")
    return str(value)


def _reason(raw: Mapping[str, Any]) -> str:
    value = raw.get("reason")
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidRequestField("reason", "is required")
    if len(text) > REASON_MAX:
        raise InvalidRequestField("reason", f"is longer than {REASON_MAX} characters")
    return text


def _attachment_ids(raw: Mapping[str, Any]) -> tuple[str, ...]:
    value = raw.get("attachment_ids")
    if value is None or value == "":
        return ()
    if isinstance(value, str):  # on the sync wire: JSON text of an array
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidRequestField("attachment_ids", "must be a JSON array of ids") from exc
    if not isinstance(value, list | tuple) or not all(isinstance(i, str) for i in value):
        raise InvalidRequestField("attachment_ids", "must be a list of ids")
    ids = tuple(dict.fromkeys(value))
    if len(ids) > MAX_ATTACHMENTS:
        raise InvalidRequestField("attachment_ids", f"at most {MAX_ATTACHMENTS} attachments")
    bad = [i for i in ids if not CLIENT_ID.fullmatch(i)]
    if bad:
        raise InvalidRequestField(
            "attachment_ids", f"{bad[0][:64]!r} is not an id (1–64 of A–Z a–z 0–9 _ . -)"
        )
    return ids


@dataclass(frozen=True)
class LeaveInput:
    """A leave request's client-written values, cleaned."""

    leave_type: str
    start_on: date
    start_half: str
    end_on: date
    end_half: str
    reason: str
    attachment_ids: tuple[str, ...]

    @property
    def first_half(self) -> int:
        return half_ordinal(self.start_on, self.start_half)

    @property
    def last_half(self) -> int:
        return half_ordinal(self.end_on, self.end_half)

    def values(self) -> dict[str, Any]:
        """Plain JSON values (what sync digests and stores in quarantine)."""
        return {
            "leave_type": self.leave_type,
            "start_on": self.start_on.isoformat(),
            "start_half": self.start_half,
            "end_on": self.end_on.isoformat(),
            "end_half": self.end_half,
            "reason": self.reason,
            "attachment_ids": list(self.attachment_ids),
        }

    def columns(self) -> dict[str, Any]:
        return {
            "leave_type": self.leave_type,
            "start_on": self.start_on,
            "start_half": self.start_half,
            "end_on": self.end_on,
            "end_half": self.end_half,
            "first_half": self.first_half,
            "last_half": self.last_half,
            "reason": self.reason,
            "attachment_ids": list(self.attachment_ids),
        }


def clean_leave(raw: Mapping[str, Any]) -> LeaveInput:
    """Typed values of a leave request (unknown keys are ignored), or InvalidRequestField."""
    leave_type = raw.get("leave_type")
    if not isinstance(leave_type, str) or not leave_type.strip():
        raise InvalidRequestField("leave_type", "is required")
    if len(leave_type) > LEAVE_TYPE_MAX:
        raise InvalidRequestField("leave_type", f"is longer than {LEAVE_TYPE_MAX} characters")
    data = LeaveInput(
        leave_type=leave_type.strip(),
        start_on=_date(raw, "start_on"),
        start_half=_choice(raw, "start_half", HALVES, "am"),
        end_on=_date(raw, "end_on"),
        end_half=_choice(raw, "end_half", HALVES, "pm"),
        reason=_reason(raw),
        attachment_ids=_attachment_ids(raw),
    )
    if data.end_on < data.start_on:
        raise InvalidRequestField("end_on", "is before start_on")
    if data.last_half < data.first_half:
        raise InvalidRequestField("end_half", "the leave would end before it starts")
    return data


def leave_values(row: LeaveRequest) -> dict[str, Any]:
    """The stored request's client-written values, as :func:`clean_leave` takes them."""
    return {
        "leave_type": row.leave_type,
        "start_on": row.start_on,
        "start_half": row.start_half,
        "end_on": row.end_on,
        "end_half": row.end_half,
        "reason": row.reason,
        "attachment_ids": list(row.attachment_ids),
    }


def stored_leave(row: LeaveRequest) -> LeaveInput:
    """The stored values as an input, unchecked (to tell whether a push changes them)."""
    return LeaveInput(
        leave_type=row.leave_type,
        start_on=row.start_on,
        start_half=row.start_half,
        end_on=row.end_on,
        end_half=row.end_half,
        reason=row.reason,
        attachment_ids=tuple(row.attachment_ids),
    )


def local_time(moment: datetime) -> str:
    """``HH:MM`` in China time: how a correction's time is asked for and shown."""
    return moment.astimezone(CHINA).strftime("%H:%M")


@dataclass(frozen=True)
class CorrectionInput:
    """A punch correction's client-written values, cleaned."""

    day: date
    kind: str
    time: time
    reason: str
    attachment_ids: tuple[str, ...]

    @property
    def punched_at(self) -> datetime:
        return datetime.combine(self.day, self.time, tzinfo=CHINA).astimezone(UTC)

    def values(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "kind": self.kind,
            "time": self.time.strftime("%H:%M"),
            "reason": self.reason,
            "attachment_ids": list(self.attachment_ids),
        }

    def columns(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "kind": self.kind,
            "punched_at": self.punched_at,
            "reason": self.reason,
            "attachment_ids": list(self.attachment_ids),
        }


def clean_correction(raw: Mapping[str, Any]) -> CorrectionInput:
    """Typed values of a punch correction (unknown keys are ignored), or InvalidRequestField."""
    kind = raw.get("kind")
    if kind not in CHECK_IN_KINDS:
        raise InvalidRequestField("kind", f"must be one of {', '.join(CHECK_IN_KINDS)}")
    text = raw.get("time")
    match = _HH_MM.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidRequestField("time", "must be HH:MM, China time (e.g. 07:55)")
    return CorrectionInput(
        day=_date(raw, "day"),
        kind=str(kind),
        time=time(int(match.group(1)), int(match.group(2))),
        reason=_reason(raw),
        attachment_ids=_attachment_ids(raw),
    )


def correction_values(row: PunchCorrection) -> dict[str, Any]:
    return {
        "day": row.day,
        "kind": row.kind,
        "time": local_time(row.punched_at),
        "reason": row.reason,
        "attachment_ids": list(row.attachment_ids),
    }


def stored_correction(row: PunchCorrection) -> CorrectionInput:
    local = row.punched_at.astimezone(CHINA)
    return CorrectionInput(
        day=row.day,
        kind=row.kind,
        time=time(local.hour, local.minute),
        reason=row.reason,
        attachment_ids=tuple(row.attachment_ids),
    )
