"""The attendance views over HTTP: a teacher's month, a host school's daily board, and the
history of a day (see ``views`` for who sees what)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from flask.views import MethodView

from backend.attendance import views
from backend.attendance.views_schemas import (
    BoardArgs,
    BoardSchema,
    DayChangeSchema,
    MonthViewSchema,
)
from backend.auth.policy import Action, Resource, current_principal, requires
from backend.clock import today
from backend.db import db
from backend.errors import InvalidInput
from backend.extensions import Blueprint

views_blp = Blueprint(
    "attendance_views",
    __name__,
    url_prefix="/api/v1/attendance",
    description="Daily attendance: a teacher's month, the host school's daily board, day history",
)


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError as exc:
        raise InvalidInput("month must be YYYY-MM", field="month") from exc


@views_blp.route("/teachers/<uuid:teacher_id>/months/<month>")
class TeacherMonth(MethodView):
    @views_blp.response(200, MonthViewSchema)
    @requires(Resource.TEACHER_DAY, Action.READ)
    def get(self, teacher_id: uuid.UUID, month: str) -> dict[str, Any]:
        """A teacher's month, day by day, with every flag explained and the month's sums."""
        return views.month_view(db.session, current_principal(), teacher_id, _month(month))


@views_blp.route("/teachers/<uuid:teacher_id>/days/<string:day>/changes")
class TeacherDayChanges(MethodView):
    @views_blp.response(200, DayChangeSchema(many=True))
    @requires(Resource.TEACHER_DAY, Action.READ)
    def get(self, teacher_id: uuid.UUID, day: str) -> list[Any]:
        """How a stored day's verdict changed, and why (oldest first)."""
        try:
            on = date.fromisoformat(day)
        except ValueError as exc:
            raise InvalidInput("day must be YYYY-MM-DD", field="day") from exc
        return views.day_changes(db.session, current_principal(), teacher_id, on)


@views_blp.route("/schools/<uuid:school_id>/board")
class DailyBoard(MethodView):
    @views_blp.arguments(BoardArgs, location="query")
    @views_blp.response(200, BoardSchema)
    @requires(Resource.TEACHER_DAY, Action.READ)
    def get(self, args: dict[str, Any], school_id: uuid.UUID) -> dict[str, Any]:
        """Who of the seconded teachers is in, late, absent or flagged on a day."""
        on = args["date"] or today()
        return views.board(db.session, current_principal(), school_id, on)
