"""Wire shapes of the attendance views: a teacher's month, the daily board, a day's history."""

from __future__ import annotations

from marshmallow import fields, validate

from backend.attendance.day_models import DAY_STATUSES
from backend.attendance.views import BOARD_STATES
from backend.extensions import Schema

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class ExplanationSchema(Schema):
    code = fields.String()
    reason = fields.String()


class FlagReviewStateSchema(Schema):
    decision = fields.String(
        metadata={"description": "accepted (the punch does not count) or dismissed"}
    )
    note = fields.String()
    reviewed_at = fields.DateTime()


class DayFlagSchema(Schema):
    check_in_id = fields.String()
    kind = fields.String()
    at = fields.DateTime(metadata={"description": "estimated capture time"})
    code = fields.String()
    reason = fields.String()
    review = fields.Nested(FlagReviewStateSchema, allow_none=True)


class DayDiscrepancySchema(Schema):
    code = fields.String()
    reason = fields.String()


class DaySpotCheckSchema(Schema):
    spot_check_id = fields.UUID()
    visit_id = fields.String()
    at = fields.DateTime(allow_none=True, metadata={"description": "estimated arrival"})
    finding = fields.String(metadata={"description": "what the inspector found"})
    note = fields.String()
    discrepancies = fields.List(
        fields.Nested(DayDiscrepancySchema),
        metadata={"description": "where the finding disagrees with the attendance record"},
    )


class DayEntrySchema(Schema):
    date = fields.Date(attribute="day")
    final = fields.Boolean(metadata={"description": "false for today: the day is not over"})
    stored = fields.Boolean(metadata={"description": "false: derived live (not closed yet)"})
    status = fields.String(
        allow_none=True,
        metadata={
            "description": "one of " + ", ".join(DAY_STATUSES) + "; null: not seconded (or not"
            " visible to you) that day, or a day still ahead"
        },
    )
    version = fields.Integer(allow_none=True)
    secondment_id = fields.UUID(allow_none=True)
    host_school_id = fields.UUID(allow_none=True)
    day_kind = fields.String(allow_none=True)
    day_name = fields.String()
    leave_type = fields.String(allow_none=True)
    leave_halves = fields.Integer()
    duty_halves = fields.Integer()
    in_at = fields.DateTime(allow_none=True)
    out_at = fields.DateTime(allow_none=True)
    late_minutes = fields.Integer()
    early_minutes = fields.Integer()
    attended_minutes = fields.Integer()
    corrections_applied = fields.Integer()
    open_flags = fields.Integer()
    explanation = fields.List(fields.Nested(ExplanationSchema))
    flags = fields.List(fields.Nested(DayFlagSchema))
    spot_checks = fields.List(fields.Nested(DaySpotCheckSchema))


class MonthSummarySchema(Schema):
    workdays = fields.Integer()
    statuses = fields.Dict(keys=fields.String(), values=fields.Integer())
    days_at_work = fields.Float()
    leave_days = fields.Dict(keys=fields.String(), values=fields.Float())
    official_duty_days = fields.Float()
    late = fields.Integer()
    early_leave = fields.Integer()
    absent = fields.Integer()
    corrections_applied = fields.Integer()
    open_flags = fields.Integer()
    not_final = fields.Integer()
    unpublished = fields.Integer()


class MonthViewSchema(Schema):
    teacher_id = fields.UUID()
    teacher_name = fields.String()
    staff_no = fields.String()
    month = fields.String()
    days = fields.List(fields.Nested(DayEntrySchema))
    summary = fields.Nested(MonthSummarySchema)


class BoardArgs(Schema):
    date = fields.Date(load_default=None, metadata={"description": "default: today (China)"})


class BoardEntrySchema(Schema):
    teacher_id = fields.UUID()
    teacher_name = fields.String()
    staff_no = fields.String()
    home_school_name = fields.String()
    secondment_id = fields.UUID()
    state = fields.String(validate=validate.OneOf(BOARD_STATES))
    day = fields.Nested(DayEntrySchema)


class BoardSchema(Schema):
    school_id = fields.UUID()
    school_name = fields.String()
    date = fields.Date()
    day_over = fields.Boolean()
    generated_at = fields.DateTime()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    flagged = fields.Integer()
    teachers = fields.List(fields.Nested(BoardEntrySchema))


class DayChangeSchema(Schema):
    version = fields.Integer()
    changed_at = fields.DateTime()
    cause = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict()
