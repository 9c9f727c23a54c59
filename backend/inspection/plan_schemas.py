"""Wire shapes of inspection plans, their draw, their public record, and recusals.

Bodies declare types only; the rules on values (period order, one target, strata, …) are
``backend.inspection.plans``'s, so every bad value is a 422 with its own code.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from backend.extensions import Schema
from backend.inspection.models import CONFLICT_KINDS, FINDINGS, PLAN_STATUSES, STRATA

_STRATA_DOC = (
    f"one of {', '.join(STRATA)}: draws spread over host schools, communities, or not at all"
)
_TARGET_DOC = "Exactly one of target_count (≥ 1) and target_ratio (in (0, 1])."


class _PlanFields(Schema):
    name = fields.String(metadata={"description": "1–200 characters."})
    period_start = fields.Date()
    period_end = fields.Date(metadata={"description": "Inclusive; not before period_start."})
    community_ids = fields.List(
        fields.UUID(),
        metadata={"description": "Only these communities' secondments; empty: the whole region."},
    )
    target_count = fields.Integer(allow_none=True, metadata={"description": _TARGET_DOC})
    target_ratio = fields.Float(allow_none=True, metadata={"description": _TARGET_DOC})
    strata = fields.String(metadata={"description": _STRATA_DOC})
    risk_weighting = fields.Boolean(
        metadata={"description": "Weigh teachers by recent flags and absences (at most 3×)."}
    )
    inspectors_per_visit = fields.Integer(metadata={"description": "At least 2."})
    window_days = fields.Integer(metadata={"description": "Days a visit may fall on, 1–31."})


class InspectionPlanCreateArgs(_PlanFields):
    region_id = fields.UUID(
        metadata={"description": "Your region or one below it; default: your region."}
    )
    name = fields.String(required=True, metadata={"description": "1–200 characters."})
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)


class InspectionPlanPatchArgs(_PlanFields):
    """Any of the draft's fields (send the GET's ETag as If-Match)."""


class InspectionPlanQueryArgs(Schema):
    status = fields.String(validate=validate.OneOf(PLAN_STATUSES))
    region_id = fields.UUID()


class InspectionPlanSchema(Schema):
    """A plan as its bureau sees it. ``seed`` stays null until revealed."""

    id = fields.UUID(dump_only=True)
    region_id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)
    period_start = fields.Date(dump_only=True)
    period_end = fields.Date(dump_only=True)
    community_ids = fields.List(fields.String(), dump_only=True)
    target_count = fields.Integer(dump_only=True, allow_none=True)
    target_ratio = fields.Float(dump_only=True, allow_none=True)
    strata = fields.String(dump_only=True)
    risk_weighting = fields.Boolean(dump_only=True)
    inspectors_per_visit = fields.Integer(dump_only=True)
    window_days = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": ", ".join(PLAN_STATUSES)})
    created_by_id = fields.UUID(dump_only=True, allow_none=True)
    seed_commitment = fields.String(dump_only=True, allow_none=True)
    inputs_digest = fields.String(dump_only=True, allow_none=True)
    beacon = fields.String(dump_only=True)
    result_digest = fields.String(dump_only=True, allow_none=True)
    seed = fields.Method("_seed", dump_only=True, allow_none=True)
    committed_at = fields.DateTime(dump_only=True, allow_none=True)
    drawn_at = fields.DateTime(dump_only=True, allow_none=True)
    revealed_at = fields.DateTime(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def _seed(self, plan: Any) -> str | None:
        # Secret until revealed, even to the bureau: nobody can be tipped off in advance.
        seed: str | None = plan.seed if plan.status == "revealed" else None
        return seed


class DrawPlanArgs(Schema):
    beacon = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={
            "description": (
                "Public randomness fixed after the commit, e.g. the numbers of a lottery drawn"
                " on a date announced with the plan (≤ 200 characters)."
            )
        },
    )


# --- the bureau's view of its draw -------------------------------------------------------------


class _NamedPerson(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)


class BureauSpotCheckSchema(Schema):
    id = fields.UUID(dump_only=True)
    plan_id = fields.UUID(dump_only=True)
    sequence = fields.Integer(dump_only=True)
    school_id = fields.UUID(dump_only=True)
    school_name = fields.String(dump_only=True)
    window_start = fields.Date(dump_only=True)
    window_end = fields.Date(dump_only=True)
    status = fields.String(dump_only=True)
    visited_at = fields.DateTime(dump_only=True, allow_none=True)
    teachers = fields.List(fields.Nested(_NamedPerson), dump_only=True)
    inspectors = fields.List(fields.Nested(_NamedPerson), dump_only=True)


# --- public ---------------------------------------------------------------------------------


class _PublicRegion(Schema):
    id = fields.String(dump_only=True)
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)


class PublicInspectionPlanInfo(Schema):
    id = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    region = fields.Nested(_PublicRegion, dump_only=True)
    period_start = fields.String(dump_only=True)
    period_end = fields.String(dump_only=True)
    community_ids = fields.List(fields.String(), dump_only=True)
    strata = fields.String(dump_only=True)
    target_count = fields.Integer(dump_only=True, allow_none=True)
    target_ratio = fields.Float(dump_only=True, allow_none=True)
    risk_weighting = fields.Boolean(dump_only=True)
    inspectors_per_visit = fields.Integer(dump_only=True)
    window_days = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True)


class DrawRecordSchema(Schema):
    """Everything needed to re-run the draw (``python -m backend.inspection.draw``): refs
    only. ``seed``, ``result_digest`` and ``visits`` are null until the seed is revealed."""

    plan = fields.Nested(PublicInspectionPlanInfo, dump_only=True)
    draw_version = fields.Integer(dump_only=True)
    inputs = fields.Dict(dump_only=True, metadata={"description": "See inspection.draw."})
    inputs_digest = fields.String(dump_only=True)
    seed_commitment = fields.String(dump_only=True)
    beacon = fields.String(dump_only=True)
    committed_at = fields.DateTime(dump_only=True, allow_none=True)
    drawn_at = fields.DateTime(dump_only=True, allow_none=True)
    revealed_at = fields.DateTime(dump_only=True, allow_none=True)
    seed = fields.String(dump_only=True, allow_none=True)
    result_digest = fields.String(dump_only=True, allow_none=True)
    visits = fields.List(fields.Dict(), dump_only=True, allow_none=True)


class SpotCheckSchoolResultSchema(Schema):
    school_id = fields.String(dump_only=True)
    school_name = fields.String(dump_only=True)
    spot_checks = fields.Integer(dump_only=True)
    teachers_checked = fields.Integer(dump_only=True)
    findings = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        dump_only=True,
        metadata={"description": f"Teachers per finding: {', '.join(FINDINGS)}."},
    )
    discrepancies = fields.Integer(dump_only=True)
    discrepancies_by_code = fields.Dict(keys=fields.String(), values=fields.Integer())


class PublicInspectionPlanSchema(Schema):
    """A published plan (一公开); results per school once the seed is revealed."""

    id = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    region_id = fields.String(dump_only=True)
    region_name = fields.String(dump_only=True)
    period_start = fields.Date(dump_only=True)
    period_end = fields.Date(dump_only=True)
    status = fields.String(dump_only=True)
    strata = fields.String(dump_only=True)
    candidates = fields.Integer(dump_only=True)
    target = fields.Integer(dump_only=True)
    seed_commitment = fields.String(dump_only=True)
    inputs_digest = fields.String(dump_only=True)
    beacon = fields.String(dump_only=True)
    committed_at = fields.DateTime(dump_only=True, allow_none=True)
    drawn_at = fields.DateTime(dump_only=True, allow_none=True)
    revealed_at = fields.DateTime(dump_only=True, allow_none=True)
    seed = fields.String(dump_only=True, allow_none=True)
    result_digest = fields.String(dump_only=True, allow_none=True)
    schools = fields.List(
        fields.Nested(SpotCheckSchoolResultSchema), dump_only=True, allow_none=True
    )


class PublicInspectionPlanQueryArgs(Schema):
    region_id = fields.UUID()


class DrawVerificationSchema(Schema):
    verified = fields.Boolean(dump_only=True)
    reason = fields.String(dump_only=True)
    seed_matches_commitment = fields.Boolean(dump_only=True)
    inputs_match_digest = fields.Boolean(dump_only=True)
    result_matches = fields.Boolean(dump_only=True)
    visits = fields.List(fields.Dict(), dump_only=True)


# --- recusals -----------------------------------------------------------------------------


class InspectorConflictSchema(Schema):
    id = fields.UUID(dump_only=True)
    inspector_id = fields.UUID(required=True)
    school_id = fields.UUID(allow_none=True, load_default=None)
    teacher_id = fields.UUID(allow_none=True, load_default=None)
    kind = fields.String(required=True, metadata={"description": ", ".join(CONFLICT_KINDS)})
    note = fields.String(load_default="", metadata={"description": "≤ 500 characters."})
    created_at = fields.DateTime(dump_only=True)


class InspectorConflictQueryArgs(Schema):
    inspector_id = fields.UUID()
    school_id = fields.UUID()
    teacher_id = fields.UUID()
