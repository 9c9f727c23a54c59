# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Random spot-check plans (双随机、一公开) over HTTP.

- ``/inspection/plans``: the bureau's plans — drafted, committed (inputs frozen, the seed's
  hash published), drawn (spot checks made, secret), revealed after the period, or
  cancelled; ``/spot-checks`` is the bureau's view of its draw, with names.
- ``/inspection/conflicts``: recusals (回避) of the bureau's inspectors.
- ``/public/inspection/plans``: no token — every committed plan's summary, its draw record
  (refs only) and, once revealed, the verification of its draw (一公开).

Access is the central policy's (``INSPECTION_PLAN``, ``INSPECTOR_CONFLICT``). The seed is
never served before it is revealed, to anyone.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView

from backend.auth.models import User
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    in_scope,
    public,
    requires,
    scoped_select,
)
from backend.db import db
from backend.errors import InvalidInput
from backend.exchange.models import Teacher
from backend.extensions import Blueprint, settings_of
from backend.inspection import plans, publication
from backend.inspection.models import (
    InspectionPlan,
    InspectorConflict,
    SpotCheck,
    SpotCheckInspector,
    SpotCheckTeacher,
)
from backend.inspection.plan_schemas import (
    BureauSpotCheckSchema,
    DrawPlanArgs,
    DrawRecordSchema,
    DrawVerificationSchema,
    InspectionPlanCreateArgs,
    InspectionPlanPatchArgs,
    InspectionPlanQueryArgs,
    InspectionPlanSchema,
    InspectorConflictQueryArgs,
    InspectorConflictSchema,
    PublicInspectionPlanQueryArgs,
    PublicInspectionPlanSchema,
)
from backend.org.models import School
from backend.pagination import PageArgs, page_schema, paginate

plans_blp = Blueprint(
    "inspection_plans",
    __name__,
    url_prefix="/api/v1/inspection/plans",
    description="Random spot-check plans (双随机、一公开): commit, draw, reveal",
)
conflicts_blp = Blueprint(
    "inspector_conflicts",
    __name__,
    url_prefix="/api/v1/inspection/conflicts",
    description="Recusals (回避): schools and teachers an inspector never checks",
)
public_blp = Blueprint(
    "public_inspection",
    __name__,
    url_prefix="/api/v1/public/inspection/plans",
    description="Published spot-check plans and their verifiable draws (一公开); no token",
)
blueprints = [plans_blp, conflicts_blp, public_blp]

PlanPage = page_schema(InspectionPlanSchema, "InspectionPlanPage")
SpotCheckPage = page_schema(BureauSpotCheckSchema, "BureauSpotCheckPage")
ConflictPage = page_schema(InspectorConflictSchema, "InspectorConflictPage")
PublicPlanPage = page_schema(PublicInspectionPlanSchema, "PublicInspectionPlanPage")
_NO_AUTH: list[dict[str, list[str]]] = []


def _plan(plan_id: uuid.UUID, action: Action) -> InspectionPlan:
    plan: InspectionPlan = get_scoped(
        db.session,
        current_principal(),
        Resource.INSPECTION_PLAN,
        action,
        plan_id,
        for_update=action is not Action.READ,
    )
    return plan


# --- the bureau's plans -------------------------------------------------------------------------


@plans_blp.route("")
class Plans(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.READ)
    @plans_blp.arguments(InspectionPlanQueryArgs, location="query")
    @plans_blp.arguments(PageArgs, location="query")
    @plans_blp.response(200, PlanPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        stmt = scoped_select(current_principal(), Resource.INSPECTION_PLAN, Action.READ)
        for name in ("status", "region_id"):
            if name in query:
                stmt = stmt.where(getattr(InspectionPlan, name) == query[name])
        return paginate(db.session, stmt, InspectionPlan.id, page)

    @requires(Resource.INSPECTION_PLAN, Action.WRITE)
    @plans_blp.arguments(InspectionPlanCreateArgs)
    @plans_blp.response(201, InspectionPlanSchema)
    def post(self, data: dict[str, Any]) -> InspectionPlan:
        """Draft a plan in your region (or one below it).

        422 `invalid_period`, `invalid_target`, `invalid_strata`,
        `invalid_inspectors_per_visit`, `invalid_window_days`, `unknown_community`,
        `unknown_region`.
        """
        principal = current_principal()
        region_id = data.get("region_id") or principal.region_id
        if region_id is None or not in_scope(
            db.session, principal, Resource.REGION, Action.READ, region_id
        ):
            raise InvalidInput(
                f"no region {region_id} in your scope", field="region_id", code="unknown_region"
            )
        return plans.create_plan(
            db.session, {**data, "region_id": region_id}, created_by_id=principal.user_id
        )


@plans_blp.route("/<uuid:plan_id>")
class PlanById(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.READ)
    @plans_blp.etag
    @plans_blp.response(200, InspectionPlanSchema)
    def get(self, plan_id: uuid.UUID) -> InspectionPlan:
        return _plan(plan_id, Action.READ)

    @requires(Resource.INSPECTION_PLAN, Action.WRITE)
    @plans_blp.etag
    @plans_blp.arguments(InspectionPlanPatchArgs)
    @plans_blp.response(200, InspectionPlanSchema)
    def patch(self, changes: dict[str, Any], plan_id: uuid.UUID) -> InspectionPlan:
        """Edit a draft (If-Match: the GET's ETag); 409 `plan_status` once committed."""
        plan = _plan(plan_id, Action.WRITE)
        plans_blp.check_etag(plan, InspectionPlanSchema)
        return plans.update_plan(db.session, plan, changes)


@plans_blp.route("/<uuid:plan_id>/commit")
class CommitPlan(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.APPROVE)
    @plans_blp.response(200, InspectionPlanSchema)
    def post(self, plan_id: uuid.UUID) -> InspectionPlan:
        """Freeze the candidates, inspectors, recusals and workdays, and publish the hash
        of a secret seed. 422 `calendar_not_published`, `no_workday_in_period`."""
        return plans.commit(
            db.session,
            _plan(plan_id, Action.APPROVE),
            settings_of(current_app).secret_key,
        )


@plans_blp.route("/<uuid:plan_id>/draw")
class DrawPlan(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.APPROVE)
    @plans_blp.arguments(DrawPlanArgs)
    @plans_blp.response(200, InspectionPlanSchema)
    def post(self, args: dict[str, Any], plan_id: uuid.UUID) -> InspectionPlan:
        """Draw the spot checks of a committed plan with the public beacon.
        422 `draw_impossible` (e.g. too few inspectors free of recusals), `period_over`."""
        return plans.draw_spot_checks(db.session, _plan(plan_id, Action.APPROVE), args["beacon"])


@plans_blp.route("/<uuid:plan_id>/reveal")
class RevealPlan(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.APPROVE)
    @plans_blp.response(200, InspectionPlanSchema)
    def post(self, plan_id: uuid.UUID) -> InspectionPlan:
        """Publish the seed of a drawn plan whose period is over (422 `period_not_over`)."""
        return plans.reveal(db.session, _plan(plan_id, Action.APPROVE))


@plans_blp.route("/<uuid:plan_id>/cancel")
class CancelPlan(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.APPROVE)
    @plans_blp.response(200, InspectionPlanSchema)
    def post(self, plan_id: uuid.UUID) -> InspectionPlan:
        """Call off a draft or committed plan (a committed one stays public as cancelled)."""
        return plans.cancel(db.session, _plan(plan_id, Action.APPROVE))


@plans_blp.route("/<uuid:plan_id>/draw-record")
class PlanDrawRecord(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.READ)
    @plans_blp.response(200, DrawRecordSchema)
    def get(self, plan_id: uuid.UUID) -> dict[str, Any]:
        """The public draw record (409 `plan_status` for a draft)."""
        return publication.draw_record(db.session, _plan(plan_id, Action.READ))


def _named_people(check_ids: list[uuid.UUID]) -> tuple[dict[Any, list[Any]], dict[Any, list[Any]]]:
    teachers: dict[Any, list[Any]] = defaultdict(list)
    inspectors: dict[Any, list[Any]] = defaultdict(list)
    if not check_ids:
        return teachers, inspectors
    for row in db.session.execute(
        sa.select(SpotCheckTeacher.spot_check_id, Teacher.id, Teacher.name)
        .join(Teacher, Teacher.id == SpotCheckTeacher.teacher_id)
        .where(SpotCheckTeacher.spot_check_id.in_(check_ids))
        .order_by(Teacher.name, Teacher.id)
    ):
        teachers[row.spot_check_id].append({"id": row.id, "name": row.name})
    for person in db.session.execute(
        sa.select(SpotCheckInspector.spot_check_id, User.id, User.display_name, User.username)
        .join(User, User.id == SpotCheckInspector.inspector_id)
        .where(SpotCheckInspector.spot_check_id.in_(check_ids))
        .order_by(User.username)
    ):
        inspectors[person.spot_check_id].append(
            {"id": person.id, "name": person.display_name or person.username}
        )
    return teachers, inspectors


@plans_blp.route("/<uuid:plan_id>/spot-checks")
class PlanSpotChecks(MethodView):
    @requires(Resource.INSPECTION_PLAN, Action.READ)
    @plans_blp.arguments(PageArgs, location="query")
    @plans_blp.response(200, SpotCheckPage)
    def get(self, page: dict[str, Any], plan_id: uuid.UUID) -> dict[str, Any]:
        """The plan's spot checks with schools, windows, teachers and inspectors by name.
        Secret until visited: never share them with the schools."""
        plan = _plan(plan_id, Action.READ)
        result = paginate(
            db.session,
            sa.select(SpotCheck).where(SpotCheck.plan_id == plan.id),
            SpotCheck.id,
            page,
        )
        checks: list[SpotCheck] = result["items"]
        ids = [c.id for c in checks]
        names: dict[uuid.UUID, str] = {
            row.id: row.name
            for row in db.session.execute(
                sa.select(School.id, School.name).where(
                    School.id.in_([c.school_id for c in checks])
                )
            )
        }
        teachers, inspectors = _named_people(ids)
        result["items"] = [
            {
                "id": c.id,
                "plan_id": c.plan_id,
                "sequence": c.sequence,
                "school_id": c.school_id,
                "school_name": names.get(c.school_id, ""),
                "window_start": c.window_start,
                "window_end": c.window_end,
                "status": c.status,
                "visited_at": c.visited_at,
                "teachers": teachers[c.id],
                "inspectors": inspectors[c.id],
            }
            for c in checks
        ]
        return result


# --- recusals -----------------------------------------------------------------------------------


@conflicts_blp.route("")
class Conflicts(MethodView):
    @requires(Resource.INSPECTOR_CONFLICT, Action.READ)
    @conflicts_blp.arguments(InspectorConflictQueryArgs, location="query")
    @conflicts_blp.arguments(PageArgs, location="query")
    @conflicts_blp.response(200, ConflictPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        stmt = scoped_select(current_principal(), Resource.INSPECTOR_CONFLICT, Action.READ)
        for name in ("inspector_id", "school_id", "teacher_id"):
            if name in query:
                stmt = stmt.where(getattr(InspectorConflict, name) == query[name])
        return paginate(db.session, stmt, InspectorConflict.id, page)

    @requires(Resource.INSPECTOR_CONFLICT, Action.WRITE)
    @conflicts_blp.arguments(InspectorConflictSchema)
    @conflicts_blp.response(201, InspectorConflictSchema)
    def post(self, data: dict[str, Any]) -> InspectorConflict:
        """Record that an inspector never checks a school (own_school, former_school) or a
        teacher (relative, colleague); `other` takes either. Plans committed later honour it.
        422 `unknown_inspector`, `unknown_school`, `unknown_teacher`, `kind_mismatch`;
        409 `duplicate_conflict`."""
        return plans.create_conflict(db.session, current_principal(), data)


@conflicts_blp.route("/<uuid:conflict_id>")
class ConflictById(MethodView):
    @requires(Resource.INSPECTOR_CONFLICT, Action.WRITE)
    @conflicts_blp.response(204)
    def delete(self, conflict_id: uuid.UUID) -> None:
        """Remove a recusal (plans already committed keep the one they froze)."""
        conflict = get_scoped(
            db.session,
            current_principal(),
            Resource.INSPECTOR_CONFLICT,
            Action.WRITE,
            conflict_id,
            for_update=True,
        )
        db.session.delete(conflict)
        db.session.flush()


# --- public (一公开) ------------------------------------------------------------------------------


@public_blp.route("")
class PublicPlans(MethodView):
    @public
    @public_blp.doc(security=_NO_AUTH)
    @public_blp.arguments(PublicInspectionPlanQueryArgs, location="query")
    @public_blp.arguments(PageArgs, location="query")
    @public_blp.response(200, PublicPlanPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Every committed plan of every region (drafts never were announced)."""
        stmt = publication.public_plans()
        if "region_id" in query:
            stmt = stmt.where(InspectionPlan.region_id == query["region_id"])
        result = paginate(db.session, stmt, InspectionPlan.id, page)
        result["items"] = [publication.public_summary(db.session, p) for p in result["items"]]
        return result


@public_blp.route("/<uuid:plan_id>")
class PublicPlanById(MethodView):
    @public
    @public_blp.doc(security=_NO_AUTH)
    @public_blp.response(200, PublicInspectionPlanSchema)
    def get(self, plan_id: uuid.UUID) -> dict[str, Any]:
        """A committed plan: its commitment, and once revealed its seed and results per
        school (counts only: no teacher is named)."""
        return publication.public_summary(db.session, publication.public_plan(db.session, plan_id))


@public_blp.route("/<uuid:plan_id>/draw-record")
class PublicDrawRecord(MethodView):
    @public
    @public_blp.doc(security=_NO_AUTH)
    @public_blp.response(200, DrawRecordSchema)
    def get(self, plan_id: uuid.UUID) -> dict[str, Any]:
        """The draw record: save it, and after the reveal check it yourself with
        ``python -m backend.inspection.draw record.json``."""
        return publication.draw_record(db.session, publication.public_plan(db.session, plan_id))


@public_blp.route("/<uuid:plan_id>/verification")
class PublicVerification(MethodView):
    @public
    @public_blp.doc(security=_NO_AUTH)
    @public_blp.response(200, DrawVerificationSchema)
    def get(self, plan_id: uuid.UUID) -> dict[str, Any]:
        """The server's own re-run of the revealed draw (409 `seed_not_revealed` before)."""
        return publication.verification(db.session, publication.public_plan(db.session, plan_id))
