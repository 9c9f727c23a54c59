"""Wire shapes of regions, schools, communities and membership changes."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from backend.extensions import Schema
from backend.org.models import (
    CHANGE_STATUSES,
    COMMUNITY_MODES,
    LOCALITIES,
    MEMBERSHIP_ACTIONS,
    REGION_LEVELS,
    SCHOOL_KINDS,
)

_code = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="1–32 letters, digits, _ or -")
_name = validate.Length(min=1, max=100)
_radius = validate.Range(min=10, max=5000)


class RegionSchema(Schema):
    id = fields.UUID(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z]{2,12}$"))
    name = fields.String(required=True, validate=_name)
    level = fields.String(required=True, validate=validate.OneOf(REGION_LEVELS))
    parent_id = fields.UUID(required=True)
    path = fields.String(dump_only=True)


class RegionPatchSchema(Schema):
    name = fields.String(required=True, validate=_name)


class FencePointSchema(Schema):
    label = fields.String(required=True, validate=_name)
    latitude = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    radius_m = fields.Integer(load_default=300, validate=_radius)


def _coord_system() -> fields.String:
    return fields.String(
        load_default="wgs84",
        load_only=True,
        validate=validate.OneOf(["wgs84", "gcj02"]),
        metadata={
            "description": "Datum of latitude/longitude and fence points as sent: wgs84 (GPS)"
            " or gcj02 (picked on an Amap/Tencent map); stored as WGS-84 either way."
        },
    )


class SchoolSchema(Schema):
    id = fields.UUID(dump_only=True)
    coord_system = _coord_system()
    code = fields.String(required=True, validate=_code)
    name = fields.String(required=True, validate=_name)
    kind = fields.String(required=True, validate=validate.OneOf(SCHOOL_KINDS))
    locality = fields.String(required=True, validate=validate.OneOf(LOCALITIES))
    student_count = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))
    region_id = fields.UUID(required=True)
    latitude = fields.Float(
        required=True,
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "WGS-84"},
    )
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    geofence_radius_m = fields.Integer(load_default=300, validate=_radius)
    fence_points = fields.List(
        fields.Nested(FencePointSchema), load_default=list, validate=validate.Length(max=20)
    )
    note = fields.String(load_default="", validate=validate.Length(max=500))
    updated_at = fields.DateTime(dump_only=True)


class SchoolPatchSchema(Schema):
    """Fields a school's data may change by; code and region are fixed once created."""

    coord_system = _coord_system()
    name = fields.String(validate=_name)
    kind = fields.String(validate=validate.OneOf(SCHOOL_KINDS))
    locality = fields.String(validate=validate.OneOf(LOCALITIES))
    student_count = fields.Integer(validate=validate.Range(min=0, max=100_000))
    latitude = fields.Float(validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(validate=validate.Range(min=-180, max=180))
    geofence_radius_m = fields.Integer(validate=_radius)
    fence_points = fields.List(fields.Nested(FencePointSchema), validate=validate.Length(max=20))
    note = fields.String(validate=validate.Length(max=500))


class SchoolQueryArgs(Schema):
    region_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(SCHOOL_KINDS))
    locality = fields.String(validate=validate.OneOf(LOCALITIES))
    community_id = fields.UUID(metadata={"description": "Current members of this community."})
    q = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "Name contains"}
    )


class MembershipSchema(Schema):
    school_id = fields.UUID()
    school_name = fields.Function(lambda m: m.school.name)
    role = fields.String()
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)


class CommunitySchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    mode = fields.String(required=True, validate=validate.OneOf(COMMUNITY_MODES))
    region_id = fields.UUID(required=True)
    core_school_id = fields.UUID(required=True)
    term_start = fields.Date(required=True)
    term_end = fields.Date(required=True)
    memberships = fields.List(
        fields.Nested(MembershipSchema),
        dump_only=True,
        metadata={"description": "Membership history, current and past periods."},
    )
    updated_at = fields.DateTime(dump_only=True)


class CommunityCreateArgs(CommunitySchema):
    member_school_ids = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "Member schools besides the core; they join on term_start."},
    )

    @validates_schema
    def _term(self, data: dict[str, Any], **_: Any) -> None:
        if data["term_end"] <= data["term_start"]:
            raise ValidationError("term_end must be after term_start", "term_end")


class CommunityPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    mode = fields.String(validate=validate.OneOf(COMMUNITY_MODES))
    term_end = fields.Date()


class CommunityQueryArgs(Schema):
    region_id = fields.UUID()
    mode = fields.String(validate=validate.OneOf(COMMUNITY_MODES))
    school_id = fields.UUID(metadata={"description": "Communities this school is a member of."})


class MembershipChangeSchema(Schema):
    id = fields.UUID(dump_only=True)
    community_id = fields.UUID(dump_only=True)
    school_id = fields.UUID(required=True)
    action = fields.String(required=True, validate=validate.OneOf(MEMBERSHIP_ACTIONS))
    effective_on = fields.Date(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=1000))
    status = fields.String(dump_only=True, validate=validate.OneOf(CHANGE_STATUSES))
    requested_by_id = fields.UUID(dump_only=True, allow_none=True)
    decided_by_id = fields.UUID(dump_only=True, allow_none=True)
    decided_at = fields.DateTime(dump_only=True, allow_none=True)
    decision_note = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class DecisionArgs(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=1000))
