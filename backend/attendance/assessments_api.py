"""The monthly assessment (月考核) over HTTP.

The host school's admin writes it (central policy: ``ASSESSMENT`` write); the teacher
reads their own, the home school reads what it pays from, the bureau reads its region.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest.exceptions import PreconditionFailed, PreconditionRequired
from werkzeug.http import quote_etag

from backend.attendance import assessments
from backend.attendance.assessments_schemas import (
    AssessmentArgs,
    AssessmentQueryArgs,
    AssessmentSchema,
    OneAssessmentArgs,
)
from backend.attendance.day_models import MonthlyAssessment
from backend.auth.policy import Action, Resource, current_principal, requires, scoped_select
from backend.db import db
from backend.errors import InvalidInput
from backend.extensions import Blueprint
from backend.pagination import PageArgs, page_schema, paginate

assessments_blp = Blueprint(
    "assessments",
    __name__,
    url_prefix="/api/v1/attendance/assessments",
    description="月考核: the host school's monthly grade of a seconded teacher (003 §四(三)4)",
)

AssessmentPage = page_schema(AssessmentSchema, "AssessmentPage")


def _month(text: str) -> date:
    first = assessments.parse_month(text)
    if first is None:
        raise InvalidInput(
            f'{text!r} is not a month "YYYY-MM"', errors={"path": {"month": ["Not a month."]}}
        )
    return first


def _etag_data(assessment: MonthlyAssessment) -> dict[str, Any]:
    # The revision names the version; the id keeps two teachers' first revisions apart.
    return {"id": str(assessment.id), "revision": assessment.revision}


def _etag(assessment: MonthlyAssessment) -> str:
    return str(assessments_blp._generate_etag(_etag_data(assessment)))


@assessments_blp.route("")
class Assessments(MethodView):
    @requires(Resource.ASSESSMENT, Action.READ)
    @assessments_blp.arguments(AssessmentQueryArgs, location="query")
    @assessments_blp.arguments(PageArgs, location="query")
    @assessments_blp.response(200, AssessmentPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        stmt = scoped_select(current_principal(), Resource.ASSESSMENT, Action.READ)
        for name in ("host_school_id", "month", "teacher_id"):
            if name in query:
                stmt = stmt.where(getattr(MonthlyAssessment, name) == query[name])
        return paginate(db.session, stmt, MonthlyAssessment.id, page)


@assessments_blp.route("/<uuid:teacher_id>/<string:month>")
class AssessmentByMonth(MethodView):
    @requires(Resource.ASSESSMENT, Action.READ)
    @assessments_blp.etag
    @assessments_blp.arguments(OneAssessmentArgs, location="query")
    @assessments_blp.response(200, AssessmentSchema)
    def get(self, query: dict[str, Any], teacher_id: uuid.UUID, month: str) -> MonthlyAssessment:
        """The teacher's assessment for the month (its ETag is what a revision sends)."""
        stmt = scoped_select(current_principal(), Resource.ASSESSMENT, Action.READ).where(
            MonthlyAssessment.teacher_id == teacher_id,
            MonthlyAssessment.month == _month(month),
        )
        if "host_school_id" in query:
            stmt = stmt.where(MonthlyAssessment.host_school_id == query["host_school_id"])
        assessment = assessments.one_visible(list(db.session.scalars(stmt.limit(2))), teacher_id)
        assessments_blp.set_etag(_etag_data(assessment))
        return assessment

    @requires(Resource.ASSESSMENT, Action.WRITE)
    @assessments_blp.arguments(AssessmentArgs)
    @assessments_blp.response(200, AssessmentSchema)
    @assessments_blp.alt_response(201, schema=AssessmentSchema, description="Created")
    def put(
        self, data: dict[str, Any], teacher_id: uuid.UUID, month: str
    ) -> tuple[MonthlyAssessment, int, dict[str, str]]:
        """Assess the month (201), or revise the assessment (200) with the ETag of your
        GET as If-Match: 428 without it, 412 if someone revised it meanwhile.

        404 if the teacher was never seconded to your school; 422 ``month_not_started``
        or ``no_secondment_that_month``.
        """
        principal = current_principal()
        first = _month(month)
        secondment = assessments.secondment_for(db.session, principal, teacher_id, first)
        existing = assessments.current(db.session, teacher_id, secondment.host_school_id, first)
        # If-Match is optional for the first assessment (nothing to have read yet), and a
        # tag sent for one that does not exist cannot match (RFC 9110 §13.1.1).
        if existing is None and request.if_match:
            raise PreconditionFailed
        if existing is not None:
            if not request.if_match:
                raise PreconditionRequired
            if _etag(existing) not in request.if_match:
                raise PreconditionFailed
        assessment = assessments.record(db.session, principal, secondment, first, data, existing)
        status = 201 if existing is None else 200
        return assessment, status, {"ETag": quote_etag(_etag(assessment))}
