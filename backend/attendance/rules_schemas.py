"""Wire shapes of attendance rule versions and of the rules in force at a school on a day."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from backend.attendance.calendar_models import MAX_YEAR, MIN_YEAR
from backend.attendance.rules import LEAVE_COUNTS_AS
from backend.attendance.rules_services import (
    LEAVE_CODE_PATTERN,
    LEAVE_NAME_MAX,
    MAX_CORRECTION_WINDOW_DAYS,
    MAX_CORRECTIONS_PER_MONTH,
    MAX_GRACE_MIN,
    MAX_LATE_SYNC_DAYS,
    MAX_LEAVE_TYPES,
)
from backend.extensions import Schema

_HOUR_MINUTE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
DAY_MINUTES = 24 * 60


class HourMinute(fields.Time):
    """A time of day as "HH:MM" (China time), both ways; seconds are not part of a rule."""

    default_error_messages = {"invalid": 'Not a time of day "HH:MM" (00:00–23:59).'}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> time:
        # strptime alone would take "8:3"; a rulebook says 08:30.
        if not isinstance(value, str) or not _HOUR_MINUTE.match(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class LeaveTypeSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(LEAVE_CODE_PATTERN, error="1–32 lowercase letters or _"),
        metadata={"description": "What leave requests name, e.g. sick, training."},
    )
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=LEAVE_NAME_MAX),
        metadata={"description": "The name on the region's forms, e.g. 病假, 培训."},
    )
    counts_as = fields.String(
        load_default="leave",
        validate=validate.OneOf(LEAVE_COUNTS_AS),
        metadata={
            "description": "leave (on_leave that day) or official_duty (working elsewhere"
            " for the school or the bureau)"
        },
    )


_grace = validate.Range(min=0, max=MAX_GRACE_MIN)


class _RuleValuesSchema(Schema):
    """The values of one version of the rules (each optional on input: see the POST)."""

    workday_start = HourMinute(metadata={"description": 'e.g. "08:00"'})
    midday = HourMinute(
        metadata={
            "description": "Where the morning ends and the afternoon starts (half-day leave)."
        }
    )
    workday_end = HourMinute(metadata={"description": 'e.g. "17:30"'})
    late_grace_min = fields.Integer(strict=True, validate=_grace)
    early_leave_grace_min = fields.Integer(strict=True, validate=_grace)
    half_day_threshold_min = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=DAY_MINUTES),
        metadata={
            "description": "A day attended for fewer minutes is a half day; at most the"
            " workday's length."
        },
    )
    photo_required = fields.Boolean()
    corrections_per_month = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_CORRECTIONS_PER_MONTH),
        metadata={"description": "补卡 a teacher may ask for per month."},
    )
    correction_window_days = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_CORRECTION_WINDOW_DAYS),
        metadata={
            "description": "How many days back a missed punch may be corrected (0: same day)."
        },
    )
    late_sync_days = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_LATE_SYNC_DAYS),
        metadata={"description": "A punch synced more days after capture is flagged."},
    )
    leave_types = fields.List(
        fields.Nested(LeaveTypeSchema), validate=validate.Length(min=1, max=MAX_LEAVE_TYPES)
    )


class RuleVersionArgs(_RuleValuesSchema):
    region_id = fields.UUID(required=True)
    effective_from = fields.Date(
        required=True,
        metadata={"description": "The first day judged by this version (China's calendar)."},
    )
    note = fields.String(
        load_default="",
        validate=validate.Length(max=1000),
        metadata={"description": "e.g. the bureau's notice this version implements."},
    )

    @validates("effective_from")
    def _year(self, value: Any, **_: Any) -> None:
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValidationError(f"must fall in {MIN_YEAR}–{MAX_YEAR}")

    @validates("leave_types")
    def _unique_codes(self, value: list[dict[str, Any]], **_: Any) -> None:
        # Entries that failed their own validation may lack a code: they are reported there.
        codes = [t["code"] for t in value if isinstance(t, dict) and "code" in t]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValidationError(f"each code once: {', '.join(repeated)} repeated")


class AttendanceRuleSchema(_RuleValuesSchema):
    id = fields.UUID()
    region_id = fields.UUID()
    effective_from = fields.Date()
    note = fields.String()
    created_by_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()


class RuleQueryArgs(Schema):
    region_id = fields.UUID(metadata={"description": "Versions of this region itself."})


class EffectiveRulesArgs(Schema):
    school_id = fields.UUID(required=True)
    on = fields.Date(load_default=None, metadata={"description": "The day; default today."})


class EffectiveRulesSchema(_RuleValuesSchema):
    school_id = fields.UUID()
    on = fields.Date()
    source = fields.String(
        validate=validate.OneOf(("region", "defaults")),
        metadata={"description": "region: a region's version; defaults: no region has one."},
    )
    rule_id = fields.UUID(allow_none=True)
    region_id = fields.UUID(allow_none=True)
    region_name = fields.String(allow_none=True)
    effective_from = fields.Date(allow_none=True)
