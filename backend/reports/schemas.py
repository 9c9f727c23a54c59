"""Wire shapes of the monthly reports: host and home school versions, runs, webhooks."""

from __future__ import annotations

from marshmallow import fields, validate

from backend.attendance.assessments_schemas import Month
from backend.attendance.day_models import GRADES
from backend.extensions import Schema
from backend.reports.models import (
    DELIVERY_CHANNELS,
    DELIVERY_STATUSES,
    HOST_REPORT_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
)

_days = {"description": "Days; a half day counts 0.5."}


class RowAssessmentSchema(Schema):
    grade = fields.String(validate=validate.OneOf(GRADES))
    dimensions = fields.Dict(keys=fields.String(), values=fields.String())
    comment = fields.String()


class RowSpotChecksSchema(Schema):
    checked = fields.Integer(metadata={"description": "Spot checks of the teacher."})
    present = fields.Integer(metadata={"description": "…that found them at work."})
    absent = fields.Integer(metadata={"description": "…that found them absent."})
    on_leave = fields.Integer(metadata={"description": "…that found them on approved leave."})
    discrepancies = fields.Integer(
        metadata={"description": "…whose finding disagrees with the attendance record."}
    )


class ReportRowSchema(Schema):
    """One teacher's month (the columns of ``backend.reports.tally``)."""

    teacher_id = fields.UUID()
    staff_no = fields.String()
    teacher_name = fields.String()
    home_school_id = fields.UUID()
    home_school_name = fields.String()
    host_school_id = fields.UUID()
    workdays = fields.Integer(metadata={"description": "应出勤天数: workdays judged."})
    days_at_work = fields.Float(metadata={"description": "实际出勤天数. " + _days["description"]})
    present = fields.Integer()
    late = fields.Integer(metadata={"description": "迟到: occurrences."})
    early_leave = fields.Integer(metadata={"description": "早退: occurrences."})
    half_days = fields.Integer()
    absent = fields.Integer(metadata={"description": "Days judged absent."})
    absent_days = fields.Float(metadata=_days)
    leave_days = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "Days of leave by leave type code (sick, personal, ...)."},
    )
    official_duty_days = fields.Float(metadata=_days)
    corrections_used = fields.Integer()
    open_flags = fields.Integer(metadata={"description": "Flags nobody reviewed yet."})
    unpublished_days = fields.Integer()
    unjudged_days = fields.Integer()
    allowance_days = fields.Float(
        metadata={"description": "Days the rural post allowance counts (000 §五(六))."}
    )
    assessment = fields.Nested(RowAssessmentSchema, allow_none=True)
    spot_checks = fields.Nested(
        RowSpotChecksSchema,
        metadata={"description": "The month's random spot checks (双随机) of the teacher here."},
    )


class FieldChangeSchema(Schema):
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class RowChangeSchema(Schema):
    teacher_id = fields.UUID()
    teacher_name = fields.String()
    change = fields.String(validate=validate.OneOf(("added", "removed", "changed")))
    fields_ = fields.Dict(
        data_key="fields",
        attribute="fields",
        keys=fields.String(),
        values=fields.Nested(FieldChangeSchema),
    )


class _ReportSummary(Schema):
    id = fields.UUID()
    school_id = fields.UUID()
    month = Month()
    version = fields.Integer()
    is_current = fields.Boolean()
    amendment = fields.Boolean()
    previous_id = fields.UUID(allow_none=True)
    content_hash = fields.String()
    teacher_count = fields.Function(lambda report: len(report.rows))
    created_at = fields.DateTime()


class HostReportSummarySchema(_ReportSummary):
    status = fields.String(validate=validate.OneOf(HOST_REPORT_STATUSES))
    reason = fields.String()
    tallied_at = fields.DateTime()
    confirmed_by_id = fields.UUID(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)


class HostReportSchema(HostReportSummarySchema):
    rows = fields.List(fields.Nested(ReportRowSchema))
    diff = fields.List(
        fields.Nested(RowChangeSchema),
        metadata={"description": "Per teacher, what changed against the previous version."},
    )


class DeliverySchema(Schema):
    id = fields.UUID()
    channel = fields.String(validate=validate.OneOf(DELIVERY_CHANNELS))
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer()
    last_error = fields.String()
    delivered_at = fields.DateTime(allow_none=True)


class HomeReportSummarySchema(_ReportSummary):
    delivered_at = fields.DateTime(allow_none=True)
    acknowledged_by_id = fields.UUID(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)


class HomeReportSchema(HomeReportSummarySchema):
    rows = fields.List(fields.Nested(ReportRowSchema))
    diff = fields.List(fields.Nested(RowChangeSchema))
    deliveries = fields.List(fields.Nested(DeliverySchema))


class ReportQueryArgs(Schema):
    school_id = fields.UUID()
    month = Month()
    current = fields.Boolean(metadata={"description": "Only current versions (or only not)."})


class TallyArgs(Schema):
    school_id = fields.UUID(required=True, metadata={"description": "The host school."})
    month = Month(required=True)


class RunSchema(Schema):
    id = fields.UUID()
    key = fields.String()
    kind = fields.String(validate=validate.OneOf(RUN_KINDS))
    school_id = fields.UUID(allow_none=True)
    month = Month(allow_none=True)
    status = fields.String(validate=validate.OneOf(RUN_STATUSES))
    reason = fields.String()
    error = fields.String()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    result = fields.Dict()
    created_at = fields.DateTime()


class RunQueryArgs(Schema):
    school_id = fields.UUID()
    month = Month()
    status = fields.String(validate=validate.OneOf(RUN_STATUSES))


class WebhookArgs(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "https:// (plain http only to 127.0.0.1 or localhost)."},
    )
    active = fields.Boolean(load_default=True)
    rotate_secret = fields.Boolean(
        load_default=False,
        metadata={"description": "Issue a new secret (the old one stops verifying at once)."},
    )


class WebhookSchema(Schema):
    school_id = fields.UUID()
    url = fields.String()
    active = fields.Boolean()
    secret = fields.String(
        metadata={
            "description": "Only in the answer that created or rotated it: store it then."
            " Verify X-Ucomm-Signature = sha256=HMAC-SHA256(secret, raw body), hex."
        }
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
