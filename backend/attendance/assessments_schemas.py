"""Wire shapes of the monthly assessment (月考核)."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import fields, validate

from backend.attendance.assessments import month_text, parse_month
from backend.attendance.day_models import DIMENSIONS, GRADES
from backend.extensions import Schema

_grade = validate.OneOf(GRADES)


class Month(fields.Field[date]):
    """A calendar month as "YYYY-MM", held as its first day."""

    default_error_messages = {"invalid": 'Not a month "YYYY-MM".'}

    def __init__(self, **kwargs: Any) -> None:
        # What the API document shows for it (apispec knows no custom field).
        metadata = {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2026-10"}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _serialize(self, value: date | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else month_text(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        first = parse_month(value) if isinstance(value, str) else None
        if first is None:
            raise self.make_error("invalid")
        return first


class AssessmentArgs(Schema):
    grade = fields.String(
        required=True,
        validate=_grade,
        metadata={"description": "excellent 优秀 / good 良好 / pass 合格 / fail 不合格"},
    )
    dimensions = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DIMENSIONS)),
        values=fields.String(validate=_grade),
        load_default=dict,
        metadata={
            "description": "Optional grade per dimension of 德能勤绩学廉: morality, ability,"
            " diligence, achievement, learning, integrity."
        },
    )
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class AssessmentSchema(Schema):
    id = fields.UUID()
    teacher_id = fields.UUID()
    host_school_id = fields.UUID()
    secondment_id = fields.UUID()
    month = Month()
    grade = fields.String(validate=_grade)
    dimensions = fields.Dict(keys=fields.String(), values=fields.String())
    comment = fields.String()
    assessed_by_id = fields.UUID(allow_none=True)
    revision = fields.Integer(metadata={"description": "1, then +1 at each revision."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AssessmentQueryArgs(Schema):
    host_school_id = fields.UUID()
    month = Month()
    teacher_id = fields.UUID()


class OneAssessmentArgs(Schema):
    host_school_id = fields.UUID(
        metadata={"description": "Needed only if two host schools assessed that month."}
    )
