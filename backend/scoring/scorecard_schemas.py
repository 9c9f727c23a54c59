"""Wire shapes of rubrics, scorecards, rankings, progress and manual scores.

A rubric's ``definition`` is checked by the engine (``scoring.rubric.parse``), not here:
its 422 names the bad field's path inside the definition.
"""

from __future__ import annotations

from marshmallow import fields, validate

from backend.extensions import Schema
from backend.scoring.scorecards import FIRST_SCHOOL_YEAR, LAST_SCHOOL_YEAR

_YEAR_DOC = "The year the school year starts (2026: 2026-09-01 … 2027-08-31)."
_SCHOOL_YEAR = validate.Range(min=FIRST_SCHOOL_YEAR, max=LAST_SCHOOL_YEAR)


class RubricQueryArgs(Schema):
    school_year = fields.Integer(validate=_SCHOOL_YEAR, metadata={"description": _YEAR_DOC})
    region_id = fields.UUID()


class RubricCreateArgs(Schema):
    region_id = fields.UUID(
        metadata={"description": "Your region or one below it; default: your region."}
    )
    school_year = fields.Integer(
        required=True, validate=_SCHOOL_YEAR, metadata={"description": _YEAR_DOC}
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    definition = fields.Dict(
        required=True,
        metadata={"description": "areas and criteria (see docs/scoring.md and /rubrics/default)"},
    )


class RubricSchema(Schema):
    id = fields.UUID(dump_only=True)
    region_id = fields.UUID(dump_only=True)
    school_year = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    definition = fields.Dict(dump_only=True)
    created_by_id = fields.UUID(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class DefaultRubricSchema(Schema):
    name = fields.String(dump_only=True)
    definition = fields.Dict(dump_only=True)


class ScorecardQueryArgs(Schema):
    school_year = fields.Integer(
        required=True, validate=_SCHOOL_YEAR, metadata={"description": _YEAR_DOC}
    )


class UnitResultSchema(Schema):
    period = fields.String(dump_only=True, metadata={"description": "1, 2 (terms) or year"})
    group = fields.String(dump_only=True, allow_none=True)
    label = fields.String(dump_only=True)
    found = fields.Integer(dump_only=True)
    minimum = fields.Float(dump_only=True, allow_none=True)
    missing = fields.Float(dump_only=True)
    extra = fields.Float(dump_only=True)
    measures = fields.Dict(keys=fields.String(), values=fields.Integer(), dump_only=True)


class CriterionResultSchema(Schema):
    key = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    rule = fields.String(dump_only=True)
    per = fields.String(dump_only=True)
    minimum = fields.Float(dump_only=True, allow_none=True)
    found = fields.Integer(dump_only=True)
    deduction = fields.Float(dump_only=True)
    bonus = fields.Float(dump_only=True)
    net = fields.Float(dump_only=True, metadata={"description": "bonus − deduction"})
    evidence_ids = fields.List(fields.String(), dump_only=True)
    note = fields.String(dump_only=True)
    units = fields.List(fields.Nested(UnitResultSchema), dump_only=True)
    max_points = fields.Float(dump_only=True, allow_none=True)
    manual_points = fields.Float(dump_only=True, allow_none=True)
    manual_note = fields.String(dump_only=True)
    pending = fields.Boolean(dump_only=True, metadata={"description": "manual, not scored yet"})


class AreaResultSchema(Schema):
    key = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    points = fields.Float(dump_only=True)
    floor = fields.Float(dump_only=True)
    deduction = fields.Float(dump_only=True)
    bonus = fields.Float(dump_only=True)
    subtotal = fields.Float(dump_only=True)
    zeroed = fields.Boolean(dump_only=True)
    criteria = fields.List(fields.Nested(CriterionResultSchema), dump_only=True)


class ScorecardSchema(Schema):
    community_id = fields.UUID(dump_only=True)
    community_name = fields.String(dump_only=True)
    region_id = fields.UUID(dump_only=True)
    school_year = fields.Integer(dump_only=True)
    rubric_id = fields.UUID(dump_only=True, allow_none=True)
    rubric_name = fields.String(dump_only=True)
    rubric_version = fields.Integer(dump_only=True, allow_none=True)
    rubric_region_id = fields.UUID(dump_only=True, allow_none=True)
    default_rubric = fields.Boolean(dump_only=True, metadata={"description": "003's rubric"})
    total = fields.Float(dump_only=True)
    max_total = fields.Float(dump_only=True)
    pending_manual = fields.List(fields.String(), dump_only=True)
    areas = fields.List(fields.Nested(AreaResultSchema), dump_only=True)


class RankedRowSchema(Schema):
    community_id = fields.UUID(dump_only=True)
    community_name = fields.String(dump_only=True)
    region_id = fields.UUID(dump_only=True)
    school_year = fields.Integer(dump_only=True)
    total = fields.Float(dump_only=True)
    max_total = fields.Float(dump_only=True)
    rank = fields.Integer(dump_only=True, metadata={"description": "ties share a rank"})
    ranked_among = fields.Integer(dump_only=True)
    pending_manual = fields.List(fields.String(), dump_only=True)


class RankingSchema(Schema):
    school_year = fields.Integer(dump_only=True)
    items = fields.List(fields.Nested(RankedRowSchema), dump_only=True)


class ProgressUnitSchema(Schema):
    period = fields.String(dump_only=True)
    label = fields.String(dump_only=True)
    found = fields.Integer(dump_only=True)
    minimum = fields.Float(dump_only=True)
    needed = fields.Float(dump_only=True)


class ProgressItemSchema(Schema):
    area = fields.String(dump_only=True)
    key = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    per = fields.String(dump_only=True)
    minimum = fields.Float(dump_only=True)
    found = fields.Integer(dump_only=True)
    needed = fields.Float(dump_only=True)
    units = fields.List(fields.Nested(ProgressUnitSchema), dump_only=True)


class ProgressSchema(Schema):
    community_id = fields.UUID(dump_only=True)
    school_year = fields.Integer(dump_only=True)
    as_of = fields.Date(dump_only=True)
    current_term = fields.Integer(dump_only=True, allow_none=True)
    terms_left = fields.Integer(dump_only=True, metadata={"description": "current included"})
    items = fields.List(fields.Nested(ProgressItemSchema), dump_only=True)


class ManualScoreArgs(Schema):
    points = fields.Float(required=True, metadata={"description": "0 … the criterion's max_points"})
    note = fields.String(
        required=True, validate=validate.Length(max=2000), metadata={"description": "Why."}
    )


class ManualScoreSchema(Schema):
    id = fields.UUID(dump_only=True)
    community_id = fields.UUID(dump_only=True)
    rubric_id = fields.UUID(dump_only=True)
    criterion = fields.String(dump_only=True)
    points = fields.Float(dump_only=True)
    note = fields.String(dump_only=True)
    scored_by_id = fields.UUID(dump_only=True, allow_none=True)
    scored_at = fields.DateTime(dump_only=True)
