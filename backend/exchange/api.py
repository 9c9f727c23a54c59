"""Teachers and secondments, scoped by the central policy."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.db import db, delete_unless_referenced
from backend.exchange import services
from backend.exchange.models import Secondment, Teacher
from backend.exchange.schemas import (
    CancelArgs,
    ExtensionArgs,
    SecondmentQueryArgs,
    SecondmentSchema,
    TeacherPatchSchema,
    TeacherQueryArgs,
    TeacherSchema,
)
from backend.extensions import Blueprint
from backend.pagination import PageArgs, page_schema, paginate

teachers_blp = Blueprint(
    "teachers", __name__, url_prefix="/api/v1/teachers", description="Teachers"
)
secondments_blp = Blueprint(
    "secondments",
    __name__,
    url_prefix="/api/v1/secondments",
    description="Secondments between community schools (003 §四(三))",
)
blueprints = [teachers_blp, secondments_blp]

TeacherPage = page_schema(TeacherSchema, "TeacherPage")
SecondmentPage = page_schema(SecondmentSchema, "SecondmentPage")


@teachers_blp.route("")
class Teachers(MethodView):
    @requires(Resource.TEACHER, Action.READ)
    @teachers_blp.arguments(TeacherQueryArgs, location="query")
    @teachers_blp.arguments(PageArgs, location="query")
    @teachers_blp.response(200, TeacherPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        stmt = scoped_select(current_principal(), Resource.TEACHER, Action.READ)
        if "home_school_id" in query:
            stmt = stmt.where(Teacher.home_school_id == query["home_school_id"])
        if "q" in query:
            stmt = stmt.where(
                sa.or_(
                    Teacher.name.contains(query["q"], autoescape=True),
                    Teacher.staff_no.contains(query["q"], autoescape=True),
                )
            )
        return paginate(db.session, stmt, Teacher.id, page)

    @requires(Resource.TEACHER, Action.WRITE)
    @teachers_blp.arguments(TeacherSchema)
    @teachers_blp.response(201, TeacherSchema)
    def post(self, data: dict[str, Any]) -> Teacher:
        return services.create_teacher(db.session, data, current_principal())


@teachers_blp.route("/<uuid:teacher_id>")
class TeacherById(MethodView):
    @requires(Resource.TEACHER, Action.READ)
    @teachers_blp.etag
    @teachers_blp.response(200, TeacherSchema)
    def get(self, teacher_id: uuid.UUID) -> Teacher:
        teacher: Teacher = get_scoped(
            db.session, current_principal(), Resource.TEACHER, Action.READ, teacher_id
        )
        return teacher

    @requires(Resource.TEACHER, Action.WRITE)
    @teachers_blp.etag
    @teachers_blp.arguments(TeacherPatchSchema)
    @teachers_blp.response(200, TeacherSchema)
    def patch(self, changes: dict[str, Any], teacher_id: uuid.UUID) -> Teacher:
        principal = current_principal()
        teacher: Teacher = get_scoped(
            db.session, principal, Resource.TEACHER, Action.WRITE, teacher_id, for_update=True
        )
        teachers_blp.check_etag(teacher, TeacherSchema)
        return services.update_teacher(db.session, principal, teacher, changes)

    @requires(Resource.TEACHER, Action.WRITE)
    @teachers_blp.response(204)
    def delete(self, teacher_id: uuid.UUID) -> None:
        """Remove a teacher entered by mistake: only without secondments or login (else 409)."""
        teacher: Teacher = get_scoped(
            db.session, current_principal(), Resource.TEACHER, Action.WRITE, teacher_id
        )
        delete_unless_referenced(db.session, teacher, "teacher")


@secondments_blp.route("")
class Secondments(MethodView):
    @requires(Resource.SECONDMENT, Action.READ)
    @secondments_blp.arguments(SecondmentQueryArgs, location="query")
    @secondments_blp.arguments(PageArgs, location="query")
    @secondments_blp.response(200, SecondmentPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        stmt = scoped_select(current_principal(), Resource.SECONDMENT, Action.READ).options(
            selectinload(Secondment.extensions)
        )
        for name in ("teacher_id", "home_school_id", "host_school_id"):
            if name in query:
                stmt = stmt.where(getattr(Secondment, name) == query[name])
        if "active_on" in query:
            day = query["active_on"]
            stmt = stmt.where(
                Secondment.status == "active", Secondment.start_on <= day, Secondment.end_on >= day
            )
        return paginate(db.session, stmt, Secondment.id, page)

    @requires(Resource.SECONDMENT, Action.WRITE)
    @secondments_blp.arguments(SecondmentSchema)
    @secondments_blp.response(201, SecondmentSchema)
    def post(self, data: dict[str, Any]) -> Secondment:
        """Second a teacher to a host school in the same community (003 §四(三))."""
        return services.create_secondment(db.session, data, current_principal())


@secondments_blp.route("/<uuid:secondment_id>")
class SecondmentById(MethodView):
    @requires(Resource.SECONDMENT, Action.READ)
    @secondments_blp.etag
    @secondments_blp.response(200, SecondmentSchema)
    def get(self, secondment_id: uuid.UUID) -> Secondment:
        secondment: Secondment = get_scoped(
            db.session, current_principal(), Resource.SECONDMENT, Action.READ, secondment_id
        )
        return secondment


def _writable(secondment_id: uuid.UUID) -> Secondment:
    secondment: Secondment = get_scoped(
        db.session,
        current_principal(),
        Resource.SECONDMENT,
        Action.WRITE,
        secondment_id,
        for_update=True,
    )
    return secondment


@secondments_blp.route("/<uuid:secondment_id>/extensions")
class Extensions(MethodView):
    @requires(Resource.SECONDMENT, Action.WRITE)
    @secondments_blp.arguments(ExtensionArgs)
    @secondments_blp.response(201, SecondmentSchema)
    def post(self, data: dict[str, Any], secondment_id: uuid.UUID) -> Secondment:
        """Extend by at most one school year; at most two extensions (003 §四(三))."""
        return services.extend_secondment(
            db.session,
            current_principal(),
            _writable(secondment_id),
            data["new_end_on"],
            data["reason"],
        )


@secondments_blp.route("/<uuid:secondment_id>/cancel")
class Cancel(MethodView):
    @requires(Resource.SECONDMENT, Action.WRITE)
    @secondments_blp.arguments(CancelArgs)
    @secondments_blp.response(200, SecondmentSchema)
    def post(self, data: dict[str, Any], secondment_id: uuid.UUID) -> Secondment:
        return services.cancel_secondment(db.session, _writable(secondment_id), data["reason"])
