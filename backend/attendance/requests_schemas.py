"""Wire shapes of leave requests and punch corrections, and of their string-id pages.

Bodies declare types only: every rule on the values (halves, lengths, ids, dates) lives in
``backend.attendance.requests``, which the sync writers share, so a value is judged the
same way however it arrives.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from backend.attendance.request_inputs import CLIENT_ID, local_time
from backend.attendance.request_models import HALVES, REQUEST_STATUSES
from backend.extensions import Schema
from backend.pagination import DEFAULT_LIMIT, MAX_LIMIT

# --- pages keyed by client ids ----------------------------------------------------------------


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor stands for (``backend.pagination`` pages by UUID; these ids are
    the phones' strings)."""
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("Not a cursor returned by this API") from exc
    if not CLIENT_ID.fullmatch(value):
        raise ValidationError("Not a cursor returned by this API")
    return value


class RequestPageArgs(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Page size, 1–{MAX_LIMIT}."},
    )
    cursor = fields.String(
        load_default=None, metadata={"description": "`next_cursor` of the previous page."}
    )

    @validates("cursor")
    def _check_cursor(self, value: str | None, **_: Any) -> None:
        if value is not None:
            decode_cursor(value)


class RequestQueryArgs(Schema):
    teacher_id = fields.UUID()
    host_school_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(REQUEST_STATUSES))
    from_ = fields.Date(
        data_key="from", metadata={"description": "Requests touching this day or later."}
    )
    to = fields.Date(metadata={"description": "Requests touching this day or earlier."})


# --- shared -------------------------------------------------------------------------------------

_STATUS_DOC = "pending, approved, rejected or cancelled"
_ID_DOC = "Optional client id (1–64 of A–Z a–z 0–9 _ . -); the server makes one if absent."
_ATTACHMENTS_DOC = "Up to 10 client ids of uploaded photos or scans (e.g. a doctor's note)."


class _RequestSchema(Schema):
    id = fields.String(dump_only=True)
    teacher_id = fields.UUID(dump_only=True)
    secondment_id = fields.UUID(dump_only=True)
    host_school_id = fields.UUID(dump_only=True)
    reason = fields.String(dump_only=True)
    attachment_ids = fields.List(fields.String(), dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": _STATUS_DOC})
    decided_by_id = fields.UUID(dump_only=True, allow_none=True)
    decided_at = fields.DateTime(dump_only=True, allow_none=True)
    decision_note = fields.String(dump_only=True)
    cancelled_at = fields.DateTime(dump_only=True, allow_none=True)
    filed_by_id = fields.UUID(dump_only=True, allow_none=True)
    received_at = fields.DateTime(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class RequestDecisionArgs(Schema):
    note = fields.String(
        load_default="",
        metadata={"description": "To the teacher; required to reject (≤ 1000 characters)."},
    )


# --- leave requests -----------------------------------------------------------------------------

_HALF_DOC = f"one of {', '.join(HALVES)}"


class LeaveRequestSchema(_RequestSchema):
    leave_type = fields.String(dump_only=True)
    start_on = fields.Date(dump_only=True)
    start_half = fields.String(dump_only=True, metadata={"description": _HALF_DOC})
    end_on = fields.Date(dump_only=True)
    end_half = fields.String(dump_only=True, metadata={"description": _HALF_DOC})


class LeaveRequestPatchArgs(Schema):
    leave_type = fields.String(
        metadata={"description": "A code of the host school's rules (GET /attendance rules)."}
    )
    start_on = fields.Date()
    start_half = fields.String(metadata={"description": f"{_HALF_DOC}; default am"})
    end_on = fields.Date(metadata={"description": "Inclusive."})
    end_half = fields.String(metadata={"description": f"{_HALF_DOC}; default pm"})
    reason = fields.String(metadata={"description": "Required, ≤ 1000 characters."})
    attachment_ids = fields.List(fields.String(), metadata={"description": _ATTACHMENTS_DOC})


class LeaveRequestCreateArgs(LeaveRequestPatchArgs):
    id = fields.String(metadata={"description": _ID_DOC})
    teacher_id = fields.UUID(
        metadata={"description": "Required from an admin; a teacher files for themself."}
    )
    leave_type = fields.String(required=True)
    start_on = fields.Date(required=True)
    end_on = fields.Date(required=True)
    reason = fields.String(required=True)


# --- punch corrections --------------------------------------------------------------------------


class PunchCorrectionSchema(_RequestSchema):
    day = fields.Date(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"description": "in or out"})
    time = fields.Function(
        lambda row: local_time(row.punched_at),
        dump_only=True,
        metadata={"description": "HH:MM, China time"},
    )
    punched_at = fields.DateTime(dump_only=True)


class PunchCorrectionPatchArgs(Schema):
    day = fields.Date(metadata={"description": "The workday of the missed punch."})
    kind = fields.String(metadata={"description": "in (arrival) or out (departure)"})
    time = fields.String(metadata={"description": "HH:MM, China time, e.g. 07:55"})
    reason = fields.String(metadata={"description": "Required, ≤ 1000 characters."})
    attachment_ids = fields.List(fields.String(), metadata={"description": _ATTACHMENTS_DOC})


class PunchCorrectionCreateArgs(PunchCorrectionPatchArgs):
    id = fields.String(metadata={"description": _ID_DOC})
    teacher_id = fields.UUID(
        metadata={"description": "Required from an admin; a teacher files for themself."}
    )
    day = fields.Date(required=True)
    kind = fields.String(required=True)
    time = fields.String(required=True)
    reason = fields.String(required=True)
