"""Wire shapes of teachers and secondments."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from backend.exchange.models import SECONDMENT_KINDS, SECONDMENT_ROLES, SECONDMENT_STATUSES
from backend.extensions import Schema

_staff_no = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="1–32 letters, digits, _ or -")
_phone = validate.Regexp(r"^(\+?[0-9 -]{5,20})?$", error="a phone number")


class TeacherSchema(Schema):
    id = fields.UUID(dump_only=True)
    staff_no = fields.String(required=True, validate=_staff_no)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    home_school_id = fields.UUID(required=True)
    subjects = fields.List(
        fields.String(validate=validate.Length(min=1, max=30)),
        load_default=list,
        validate=validate.Length(max=10),
    )
    phone = fields.String(load_default="", validate=_phone)
    updated_at = fields.DateTime(dump_only=True)


class TeacherPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    home_school_id = fields.UUID()
    subjects = fields.List(
        fields.String(validate=validate.Length(min=1, max=30)), validate=validate.Length(max=10)
    )
    phone = fields.String(validate=_phone)


class TeacherQueryArgs(Schema):
    home_school_id = fields.UUID()
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Name or staff number contains"},
    )


class ExtensionSchema(Schema):
    seq = fields.Integer()
    previous_end_on = fields.Date()
    new_end_on = fields.Date()
    reason = fields.String()


class SecondmentSchema(Schema):
    id = fields.UUID(dump_only=True)
    teacher_id = fields.UUID(required=True)
    home_school_id = fields.UUID(
        load_default=None,
        metadata={"description": "Defaults to the teacher's home school; must equal it."},
    )
    host_school_id = fields.UUID(required=True)
    community_id = fields.UUID(dump_only=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(SECONDMENT_KINDS))
    role = fields.String(required=True, validate=validate.OneOf(SECONDMENT_ROLES))
    start_on = fields.Date(required=True)
    end_on = fields.Date(required=True, metadata={"description": "Last day, inclusive."})
    original_end_on = fields.Date(dump_only=True)
    extension_count = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(SECONDMENT_STATUSES))
    cross_community_exception = fields.Boolean(
        load_default=False,
        metadata={"description": "Bureau exception: host and home need not share a community."},
    )
    exception_reason = fields.String(load_default="", validate=validate.Length(max=1000))
    cancel_reason = fields.String(dump_only=True)
    extensions = fields.List(fields.Nested(ExtensionSchema), dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if "start_on" in data and "end_on" in data and data["end_on"] <= data["start_on"]:
            raise ValidationError("end_on must be after start_on", "end_on")


class SecondmentQueryArgs(Schema):
    teacher_id = fields.UUID()
    home_school_id = fields.UUID()
    host_school_id = fields.UUID()
    active_on = fields.Date(metadata={"description": "Active secondments covering this day."})


class ExtensionArgs(Schema):
    new_end_on = fields.Date(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class CancelArgs(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))
