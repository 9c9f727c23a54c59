# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Spot checks and their visits over HTTP, read-only (visits arrive through sync).

Who sees what is the central policy's (``SPOT_CHECK`` and ``SPOT_CHECK_VISIT``): the bureau
its region's spot checks, an inspector those assigned to them and their own visits, a
school admin only the spot checks of their school that were visited — a spot check is
secret until the inspectors arrive. Teachers see none (403). Anything outside the caller's
scope is 404, its existence unleaked.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.auth.policy import (
    Action,
    Principal,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scope,
    scoped_select,
)
from backend.db import db
from backend.exchange.models import Teacher
from backend.extensions import Blueprint, Schema
from backend.inspection.models import (
    FINDINGS,
    SPOT_CHECK_STATUSES,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckTeacher,
    SpotCheckVisit,
)
from backend.org.models import School
from backend.pagination import PageArgs, page_schema, paginate

visits_blp = Blueprint(
    "spot_check_visits",
    __name__,
    url_prefix="/api/v1/inspection",
    description=(
        "Random spot checks (双随机、一公开) and the visits inspectors made: who was found"
        " doing what, cross-checked against the attendance record"
    ),
)


# --- schemas ----------------------------------------------------------------------------------


class SpotCheckQueryArgs(Schema):
    status = fields.String(validate=validate.OneOf(SPOT_CHECK_STATUSES))
    school_id = fields.UUID()
    plan_id = fields.UUID()


class DiscrepancySchema(Schema):
    code = fields.String(required=True)
    reason = fields.String(required=True)


class VisitFlagSchema(Schema):
    code = fields.String(required=True)
    reason = fields.String(required=True)


class VisitFindingSchema(Schema):
    teacher_id = fields.UUID(required=True)
    teacher_name = fields.String(required=True)
    staff_no = fields.String(required=True)
    finding = fields.String(required=True, validate=validate.OneOf(FINDINGS))
    note = fields.String(required=True)
    day = fields.Date(required=True, metadata={"description": "The visit's day, China time."})
    discrepancies = fields.List(
        fields.Nested(DiscrepancySchema),
        required=True,
        metadata={"description": "Where the finding and the attendance record disagree."},
    )


class VisitSchema(Schema):
    id = fields.String(required=True)
    spot_check_id = fields.UUID(required=True)
    inspector_id = fields.UUID(required=True)
    inspector_name = fields.String(required=True)
    arrived_at = fields.Integer(
        required=True, metadata={"description": "Device epoch ms (evidence, not the time)."}
    )
    estimated_at = fields.DateTime(
        allow_none=True, metadata={"description": "The server's estimate of the arrival."}
    )
    received_at = fields.DateTime(required=True)
    location = fields.String(allow_none=True, metadata={"description": "Against the fence."})
    distance_m = fields.Float(allow_none=True)
    photo_ids = fields.List(fields.String(), required=True)
    signature_photo_id = fields.String(allow_none=True)
    photo_state = fields.String(allow_none=True)
    status = fields.String(required=True)
    flags = fields.List(fields.Nested(VisitFlagSchema), required=True)
    note = fields.String(required=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    findings = fields.List(fields.Nested(VisitFindingSchema), required=True)


class SpotCheckTeacherSchema(Schema):
    teacher_id = fields.UUID(required=True)
    name = fields.String(required=True)
    staff_no = fields.String(required=True)


class SpotCheckInspectorSchema(Schema):
    user_id = fields.UUID(required=True)
    name = fields.String(required=True)


class SpotCheckSummarySchema(Schema):
    id = fields.UUID(required=True)
    plan_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    school_name = fields.String(required=True)
    window_start = fields.Date(required=True)
    window_end = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(SPOT_CHECK_STATUSES))
    visited_at = fields.DateTime(allow_none=True)


class SpotCheckDetailSchema(SpotCheckSummarySchema):
    teachers = fields.List(fields.Nested(SpotCheckTeacherSchema), required=True)
    inspectors = fields.List(fields.Nested(SpotCheckInspectorSchema), required=True)
    visits = fields.List(
        fields.Nested(VisitSchema),
        required=True,
        metadata={"description": "The visits you may see (withdrawn ones left out)."},
    )


SpotCheckSummaryPage = page_schema(SpotCheckSummarySchema, "SpotCheckSummaryPage")


# --- building answers -------------------------------------------------------------------------


def _names(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = session.execute(
        sa.select(User.id, User.display_name, User.username).where(User.id.in_(user_ids))
    )
    return {i: shown or login for i, shown, login in rows}


def _summary(spot_check: SpotCheck, school_names: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "id": spot_check.id,
        "plan_id": spot_check.plan_id,
        "school_id": spot_check.school_id,
        "school_name": school_names.get(spot_check.school_id, ""),
        "window_start": spot_check.window_start,
        "window_end": spot_check.window_end,
        "status": spot_check.status,
        "visited_at": spot_check.visited_at,
    }


def _school_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(session.execute(sa.select(School.id, School.name).where(School.id.in_(ids))).all())


def _visits(session: Session, visits: list[SpotCheckVisit]) -> list[dict[str, Any]]:
    findings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(
        sa.select(SpotCheckFinding, Teacher.name, Teacher.staff_no)
        .join(Teacher, Teacher.id == SpotCheckFinding.teacher_id)
        .where(SpotCheckFinding.visit_id.in_([v.id for v in visits]))
        .order_by(Teacher.staff_no)
    ).all()
    for f, name, staff_no in rows:
        findings[f.visit_id].append(
            {
                "teacher_id": f.teacher_id,
                "teacher_name": name,
                "staff_no": staff_no,
                "finding": f.finding,
                "note": f.note,
                "day": f.day,
                "discrepancies": f.discrepancies,
            }
        )
    names = _names(session, {v.inspector_id for v in visits})
    return [
        {
            "id": v.id,
            "spot_check_id": v.spot_check_id,
            "inspector_id": v.inspector_id,
            "inspector_name": names.get(v.inspector_id, ""),
            "arrived_at": v.arrived_at,
            "estimated_at": v.estimated_at,
            "received_at": v.received_at,
            "location": v.location,
            "distance_m": v.distance_m,
            "photo_ids": list(v.photo_ids),
            "signature_photo_id": v.signature_photo_id,
            "photo_state": v.photo_state,
            "status": v.status,
            "flags": v.flags,
            "note": v.note,
            "withdrawn_at": v.deleted_at,
            "findings": findings.get(v.id, []),
        }
        for v in visits
    ]


def _detail(session: Session, principal: Principal, spot_check: SpotCheck) -> dict[str, Any]:
    teachers = session.execute(
        sa.select(Teacher.id, Teacher.name, Teacher.staff_no)
        .join(SpotCheckTeacher, SpotCheckTeacher.teacher_id == Teacher.id)
        .where(SpotCheckTeacher.spot_check_id == spot_check.id)
        .order_by(Teacher.staff_no)
    ).all()
    inspector_ids = set(
        session.scalars(
            sa.select(SpotCheckInspector.inspector_id).where(
                SpotCheckInspector.spot_check_id == spot_check.id
            )
        )
    )
    names = _names(session, inspector_ids)
    visits = list(
        session.scalars(
            sa.select(SpotCheckVisit)
            .where(
                SpotCheckVisit.spot_check_id == spot_check.id,
                SpotCheckVisit.deleted_at.is_(None),
                scope(principal, Resource.SPOT_CHECK_VISIT, Action.READ),
            )
            .order_by(SpotCheckVisit.received_at, SpotCheckVisit.id)
        )
    )
    return {
        **_summary(spot_check, _school_names(session, {spot_check.school_id})),
        "teachers": [{"teacher_id": i, "name": n, "staff_no": s} for i, n, s in teachers],
        "inspectors": [
            {"user_id": i, "name": names.get(i, "")} for i in sorted(inspector_ids, key=str)
        ],
        "visits": _visits(session, visits),
    }


# --- views ------------------------------------------------------------------------------------


@visits_blp.route("/spot-checks")
class SpotChecks(MethodView):
    @requires(Resource.SPOT_CHECK, Action.READ)
    @visits_blp.arguments(SpotCheckQueryArgs, location="query")
    @visits_blp.arguments(PageArgs, location="query")
    @visits_blp.response(200, SpotCheckSummaryPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Spot checks you may see: the bureau its region's, an inspector their own
        assignments, a school admin the visited ones at their school."""
        stmt = scoped_select(current_principal(), Resource.SPOT_CHECK, Action.READ).where(
            SpotCheck.deleted_at.is_(None)
        )
        for name in ("status", "school_id", "plan_id"):
            if name in query:
                stmt = stmt.where(getattr(SpotCheck, name) == query[name])
        result = paginate(db.session, stmt, SpotCheck.id, page)
        names = _school_names(db.session, {s.school_id for s in result["items"]})
        result["items"] = [_summary(s, names) for s in result["items"]]
        return result


@visits_blp.route("/spot-checks/<uuid:spot_check_id>")
class SpotCheckDetail(MethodView):
    @requires(Resource.SPOT_CHECK, Action.READ)
    @visits_blp.response(200, SpotCheckDetailSchema)
    def get(self, spot_check_id: uuid.UUID) -> dict[str, Any]:
        """A spot check with its teachers, inspectors, and the visits you may see, each with
        its findings and their discrepancies with the attendance record."""
        principal = current_principal()
        spot_check: SpotCheck = get_scoped(
            db.session, principal, Resource.SPOT_CHECK, Action.READ, spot_check_id, live=True
        )
        return _detail(db.session, principal, spot_check)


@visits_blp.route("/visits/<string:visit_id>")
class VisitDetail(MethodView):
    @requires(Resource.SPOT_CHECK_VISIT, Action.READ)
    @visits_blp.response(200, VisitSchema)
    def get(self, visit_id: str) -> dict[str, Any]:
        """One visit with its findings (a withdrawn one too, marked ``withdrawn_at``)."""
        visit: SpotCheckVisit = get_scoped(
            db.session, current_principal(), Resource.SPOT_CHECK_VISIT, Action.READ, visit_id
        )
        return _visits(db.session, [visit])[0]
