"""Wire shapes of the workday calendar: published years, school calendars, exceptions, days."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from backend.attendance.calendar import DAY_KINDS
from backend.attendance.calendar_models import (
    EXCEPTION_KINDS,
    MAX_YEAR,
    MIN_YEAR,
    PERIOD_KINDS,
    PUBLISHED_DAY_KINDS,
)
from backend.extensions import Schema

MAX_RANGE_DAYS = 366
_name = validate.Length(min=1, max=100)
_year = validate.Range(min=MIN_YEAR, max=MAX_YEAR)


class PublishedDaySchema(Schema):
    date = fields.Date(attribute="day", required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(PUBLISHED_DAY_KINDS),
        metadata={"description": "holiday, or workday (a weekend day worked instead, 调休)"},
    )
    name = fields.String(
        required=True, validate=_name, metadata={"description": "e.g. 春节, 春节调休上班"}
    )


class PublishYearArgs(Schema):
    notice = fields.String(
        load_default="",
        validate=validate.Length(max=500),
        metadata={"description": "The State Council notice copied, e.g. its title and number."},
    )
    entries = fields.List(
        fields.Nested(PublishedDaySchema),
        required=True,
        validate=validate.Length(max=MAX_RANGE_DAYS),
        metadata={"description": "Dated entries of the year; other days keep the default."},
    )


class PublishedYearSchema(Schema):
    id = fields.UUID()
    region_id = fields.UUID()
    year = fields.Integer()
    notice = fields.String()
    entries = fields.List(fields.Nested(PublishedDaySchema), attribute="days")
    published_by_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _span_errors(data: dict[str, Any]) -> None:
    if data["end_on"] < data["start_on"]:
        raise ValidationError("end_on must not be before start_on", "end_on")


class SchoolCalendarPeriodSchema(Schema):
    id = fields.UUID(dump_only=True)
    region_id = fields.UUID(dump_only=True)
    school_year = fields.Integer(
        required=True,
        validate=_year,
        metadata={"description": "The year the school year begins: 2026 for 2026–2027."},
    )
    kind = fields.String(required=True, validate=validate.OneOf(PERIOD_KINDS))
    name = fields.String(
        required=True, validate=_name, metadata={"description": "e.g. 第一学期, 寒假, 暑假"}
    )
    start_on = fields.Date(required=True)
    end_on = fields.Date(required=True, metadata={"description": "Inclusive."})
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _dates(self, data: dict[str, Any], **_: Any) -> None:
        _span_errors(data)
        school_year = data["school_year"]
        for name in ("start_on", "end_on"):
            if data[name].year not in (school_year, school_year + 1):
                raise ValidationError(
                    f"must fall in {school_year} or {school_year + 1}"
                    f" (school year {school_year}–{school_year + 1})",
                    name,
                )


class PeriodQueryArgs(Schema):
    school_year = fields.Integer(validate=_year)
    kind = fields.String(validate=validate.OneOf(PERIOD_KINDS))


class SchoolDayExceptionSchema(Schema):
    id = fields.UUID(dump_only=True)
    school_id = fields.UUID(dump_only=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(EXCEPTION_KINDS),
        metadata={"description": "closed (e.g. a snow day) or open (e.g. a make-up school day)"},
    )
    start_on = fields.Date(required=True)
    end_on = fields.Date(required=True, metadata={"description": "Inclusive."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))
    created_by_id = fields.UUID(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _dates(self, data: dict[str, Any], **_: Any) -> None:
        _span_errors(data)


class ExceptionQueryArgs(Schema):
    start = fields.Date(metadata={"description": "Exceptions ending on or after this day."})
    end = fields.Date(metadata={"description": "Exceptions starting on or before this day."})


class DayRangeArgs(Schema):
    start = fields.Date(required=True, metadata={"description": "First day (China's calendar)."})
    end = fields.Date(
        required=True, metadata={"description": f"Last day, inclusive; ≤ {MAX_RANGE_DAYS} days."}
    )

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if data["end"] < data["start"]:
            raise ValidationError("end must not be before start", "end")
        if (data["end"] - data["start"]).days + 1 > MAX_RANGE_DAYS:
            raise ValidationError(f"a range covers at most {MAX_RANGE_DAYS} days", "end")


class DayInfoSchema(Schema):
    date = fields.Date(attribute="day")
    workday = fields.Boolean()
    kind = fields.String(validate=validate.OneOf(DAY_KINDS))
    name = fields.String()


class SchoolDaysSchema(Schema):
    school_id = fields.UUID()
    start = fields.Date()
    end = fields.Date()
    workday_count = fields.Integer()
    days = fields.List(fields.Nested(DayInfoSchema))
