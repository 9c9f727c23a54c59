"""Wire shapes of the flag review queue and of a review."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from backend.attendance.flag_reviews import STATES, Cursor
from backend.attendance.models import CHECK_IN_KINDS, FLAG_DECISIONS
from backend.extensions import Schema
from backend.pagination import DEFAULT_LIMIT, MAX_LIMIT


class FlagQueueArgs(Schema):
    host_school_id = fields.UUID()
    state = fields.String(
        load_default="open",
        validate=validate.OneOf(STATES),
        metadata={"description": "open (no review yet, the default), reviewed, or all."},
    )
    code = fields.String(
        validate=validate.Length(min=1, max=40), metadata={"description": "e.g. outside_fence"}
    )
    from_ = fields.Date(
        data_key="from",
        attribute="from",
        metadata={"description": "Punches on or after this day (China time)."},
    )
    to = fields.Date(metadata={"description": "Punches on or before this day (China time)."})
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
            try:
                Cursor.decode(value)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "from" in data and "to" in data and data["to"] < data["from"]:
            raise ValidationError("to must not be before from", "to")


class FlagReviewViewSchema(Schema):
    id = fields.UUID()
    decision = fields.String(validate=validate.OneOf(FLAG_DECISIONS))
    note = fields.String()
    reviewer_id = fields.UUID(allow_none=True)
    reviewer_name = fields.String(allow_none=True)
    reviewed_at = fields.DateTime()


class FlagEntrySchema(Schema):
    check_in_id = fields.String(attribute="check_in.id")
    teacher_id = fields.UUID(attribute="check_in.teacher_id")
    teacher_name = fields.String()
    host_school_id = fields.UUID(attribute="check_in.host_school_id", allow_none=True)
    kind = fields.String(attribute="check_in.kind", validate=validate.OneOf(CHECK_IN_KINDS))
    estimated_at = fields.DateTime(attribute="check_in.estimated_at")
    location = fields.String(
        attribute="check_in.location",
        allow_none=True,
        metadata={"description": "inside / outside / uncertain / unknown"},
    )
    distance_m = fields.Float(
        attribute="check_in.distance_m",
        allow_none=True,
        metadata={"description": "Beyond the nearest fence; negative inside."},
    )
    code = fields.String()
    reason = fields.String()
    review = fields.Nested(
        FlagReviewViewSchema,
        allow_none=True,
        metadata={"description": "The latest review (it decides), or null while open."},
    )


class FlagReviewArgs(Schema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf(FLAG_DECISIONS),
        metadata={
            "description": "accepted: the flag stands and the punch does not count;"
            " dismissed: a false alarm and the punch counts."
        },
    )
    note = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "Why (the audit trail): required for either decision."},
    )

    @validates("note")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("a note is required: it is the review's audit trail")


class FlagReviewSchema(Schema):
    id = fields.UUID()
    check_in_id = fields.String()
    code = fields.String()
    decision = fields.String(validate=validate.OneOf(FLAG_DECISIONS))
    note = fields.String()
    reviewer_id = fields.UUID(allow_none=True)
    reviewed_at = fields.DateTime()
