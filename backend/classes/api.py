# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Synchronized classes over HTTP: the community's joint timetable, class report forms, and
the community's progress towards 003's minimums.

Who may do what is the central policy's (``TIMETABLE``, ``CLASS_SESSION``): the joint
timetable is kept by the community's core school and the bureau, and read by every school
and teacher of the community; report forms are filed by its teachers and school admins
(phones file them through sync, ``sync.class_tables``). Reviewing forms is the review API's,
not this one's. A record outside the caller's scope is a 404, a role that may never act a 403.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from backend.attendance.requests_schemas import RequestPageArgs, decode_cursor, encode_cursor
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.classes import sessions, timetable
from backend.classes.models import ClassSession, TimetableEntry
from backend.classes.schemas import (
    ClassSessionSchema,
    SessionCreateArgs,
    SessionPatchArgs,
    SessionQueryArgs,
    SyncClassProgressArgs,
    SyncClassProgressSchema,
    TimetableCreateArgs,
    TimetableEntrySchema,
    TimetablePatchArgs,
    TimetableQueryArgs,
)
from backend.db import db
from backend.extensions import Blueprint
from backend.pagination import PageArgs, page_schema, paginate

classes_blp = Blueprint(
    "classes",
    __name__,
    url_prefix="/api/v1/classes",
    description=(
        "Synchronized classes (同步课堂): the joint timetable (一张表, 000 §三(四)) and class"
        " report forms (课堂信息汇报表, 003 §四(四))"
    ),
)

TimetablePage = page_schema(TimetableEntrySchema, "TimetablePage")
ClassSessionPage = page_schema(ClassSessionSchema, "ClassSessionPage")


def _entry(entry_id: uuid.UUID, action: Action) -> TimetableEntry:
    row: TimetableEntry = get_scoped(
        db.session,
        current_principal(),
        Resource.TIMETABLE,
        action,
        entry_id,
        for_update=action is not Action.READ,
        live=True,
    )
    return row


def _session(session_id: str, action: Action) -> ClassSession:
    row: ClassSession = get_scoped(
        db.session,
        current_principal(),
        Resource.CLASS_SESSION,
        action,
        session_id,
        for_update=action is not Action.READ,
        live=True,
    )
    return row


# --- the joint timetable --------------------------------------------------------------------------


@classes_blp.route("/timetable")
class Timetable(MethodView):
    @requires(Resource.TIMETABLE, Action.READ)
    @classes_blp.arguments(TimetableQueryArgs, location="query")
    @classes_blp.arguments(PageArgs, location="query")
    @classes_blp.response(200, TimetablePage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> Any:
        """Entries of the communities you see, by community, school year and term."""
        stmt = scoped_select(current_principal(), Resource.TIMETABLE, Action.READ).where(
            TimetableEntry.deleted_at.is_(None)
        )
        for name in ("community_id", "school_year", "term"):
            if name in query:
                stmt = stmt.where(getattr(TimetableEntry, name) == query[name])
        return paginate(db.session, stmt, TimetableEntry.id, page)

    @requires(Resource.TIMETABLE, Action.WRITE)
    @classes_blp.arguments(TimetableCreateArgs)
    @classes_blp.response(201, TimetableEntrySchema)
    def post(self, data: dict[str, Any]) -> TimetableEntry:
        """Add an entry (the community's core school admin, or the bureau).

        403 for another school of the community; 422 `unknown_community`,
        `school_not_in_community` (the lead or a receiving school is not a member now),
        `date_outside_term`, `unknown_teacher`, `invalid_field`.
        """
        return timetable.create_entry(db.session, current_principal(), data)


@classes_blp.route("/timetable/<uuid:entry_id>")
class TimetableEntryById(MethodView):
    @requires(Resource.TIMETABLE, Action.READ)
    @classes_blp.etag
    @classes_blp.response(200, TimetableEntrySchema)
    def get(self, entry_id: uuid.UUID) -> TimetableEntry:
        return _entry(entry_id, Action.READ)

    @requires(Resource.TIMETABLE, Action.WRITE)
    @classes_blp.etag
    @classes_blp.arguments(TimetablePatchArgs)
    @classes_blp.response(200, TimetableEntrySchema)
    def patch(self, changes: dict[str, Any], entry_id: uuid.UUID) -> TimetableEntry:
        """Change an entry (If-Match: the GET's ETag); checked whole."""
        row = _entry(entry_id, Action.WRITE)
        classes_blp.check_etag(row, TimetableEntrySchema)
        return timetable.revise_entry(db.session, current_principal(), row, changes)

    @requires(Resource.TIMETABLE, Action.WRITE)
    @classes_blp.response(204)
    def delete(self, entry_id: uuid.UUID) -> None:
        """Remove an entry (reports filed against it keep their link)."""
        timetable.remove_entry(db.session, _entry(entry_id, Action.WRITE))


# --- class report forms ---------------------------------------------------------------------------


def _session_page(stmt: sa.Select[Any], page: dict[str, Any]) -> dict[str, Any]:
    limit: int = page["limit"]
    if page.get("cursor"):
        stmt = stmt.where(ClassSession.id > decode_cursor(page["cursor"]))
    rows = list(db.session.scalars(stmt.order_by(ClassSession.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}


@classes_blp.route("/sessions")
class Sessions(MethodView):
    @requires(Resource.CLASS_SESSION, Action.READ)
    @classes_blp.arguments(SessionQueryArgs, location="query")
    @classes_blp.arguments(RequestPageArgs, location="query")
    @classes_blp.response(200, ClassSessionPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> Any:
        """Report forms you may see (withdrawn ones are gone)."""
        stmt = scoped_select(current_principal(), Resource.CLASS_SESSION, Action.READ).where(
            ClassSession.deleted_at.is_(None)
        )
        for name in ("community_id", "subject", "complete", "review_status"):
            if name in query:
                stmt = stmt.where(getattr(ClassSession, name) == query[name])
        if "from_" in query:
            stmt = stmt.where(ClassSession.day >= query["from_"])
        if "to" in query:
            stmt = stmt.where(ClassSession.day <= query["to"])
        return _session_page(stmt, page)

    @requires(Resource.CLASS_SESSION, Action.WRITE)
    @classes_blp.arguments(SessionCreateArgs)
    @classes_blp.response(201, ClassSessionSchema)
    def post(self, data: dict[str, Any]) -> ClassSession:
        """File a class report form (the server makes an id if none is given).

        422 `not_in_community`, `school_not_in_community`, `unknown_timetable_entry`,
        `unknown_teacher`, `day_in_future`, `invalid_field`; 409 `id_in_use`.
        """
        record_id = data.pop("id", None)
        return sessions.file_session(db.session, current_principal(), data, record_id)


@classes_blp.route("/sessions/<string:session_id>")
class SessionById(MethodView):
    @requires(Resource.CLASS_SESSION, Action.READ)
    @classes_blp.etag
    @classes_blp.response(200, ClassSessionSchema)
    def get(self, session_id: str) -> ClassSession:
        return _session(session_id, Action.READ)

    @requires(Resource.CLASS_SESSION, Action.WRITE)
    @classes_blp.etag
    @classes_blp.arguments(SessionPatchArgs)
    @classes_blp.response(200, ClassSessionSchema)
    def patch(self, changes: dict[str, Any], session_id: str) -> ClassSession:
        """Edit a form (If-Match: the GET's ETag). A change of content resubmits it for
        review as a new revision; a teacher edits only their own (403)."""
        row = _session(session_id, Action.WRITE)
        classes_blp.check_etag(row, ClassSessionSchema)
        return sessions.revise_session(db.session, current_principal(), row, changes)

    @requires(Resource.CLASS_SESSION, Action.WRITE)
    @classes_blp.response(204)
    def delete(self, session_id: str) -> None:
        """Withdraw a form: it stays as a tombstone, withdrawn from review."""
        sessions.withdraw(db.session, current_principal(), _session(session_id, Action.WRITE))


# --- progress -------------------------------------------------------------------------------------


@classes_blp.route("/progress")
class SessionProgress(MethodView):
    @requires(Resource.CLASS_SESSION, Action.READ)
    @classes_blp.arguments(SyncClassProgressArgs, location="query")
    @classes_blp.response(200, SyncClassProgressSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A community's synchronized classes this school year against 003's minimums (≥ 2
        subjects, ≥ 16 sessions; only complete, verified sessions count)."""
        result = sessions.progress(
            db.session, current_principal(), args["community_id"], args.get("school_year")
        )
        return {
            **dataclasses.asdict(result),
            "min_sessions": sessions.MIN_SESSIONS,
            "min_subjects": sessions.MIN_SUBJECTS,
            "rule": sessions.RULE,
        }
