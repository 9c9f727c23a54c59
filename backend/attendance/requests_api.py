# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Leave requests (请假) and punch corrections (补卡) over HTTP.

Teachers file, edit and cancel their own; the host school (and the bureau above it)
files for a teacher it hosts, approves and rejects; the home school reads. Who may do
what is the central policy's (``LEAVE_REQUEST`` and ``PUNCH_CORRECTION``): a request
outside the caller's scope is a 404, a role that may never act a 403. The rules are
``backend.attendance.requests``'s, shared with the phones' sync.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance import request_inputs as inputs
from backend.attendance import requests as services
from backend.attendance.request_models import LeaveRequest, PunchCorrection
from backend.attendance.requests_schemas import (
    LeaveRequestCreateArgs,
    LeaveRequestPatchArgs,
    LeaveRequestSchema,
    PunchCorrectionCreateArgs,
    PunchCorrectionPatchArgs,
    PunchCorrectionSchema,
    RequestDecisionArgs,
    RequestPageArgs,
    RequestQueryArgs,
    decode_cursor,
    encode_cursor,
)
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.db import db
from backend.extensions import Blueprint
from backend.pagination import page_schema

leave_blp = Blueprint(
    "leave_requests",
    __name__,
    url_prefix="/api/v1/leave-requests",
    description=(
        "Leave requests (请假): filed by teachers, decided by the host school (003 §四(三)4)"
    ),
)
corrections_blp = Blueprint(
    "punch_corrections",
    __name__,
    url_prefix="/api/v1/punch-corrections",
    description="Punch corrections (补卡) for a missed check-in, decided by the host school",
)
blueprints = [leave_blp, corrections_blp]

LeaveRequestPage = page_schema(LeaveRequestSchema, "LeaveRequestPage")
PunchCorrectionPage = page_schema(PunchCorrectionSchema, "PunchCorrectionPage")


def _page(session: Session, stmt: sa.Select[Any], id_column: Any, args: dict[str, Any]) -> Any:
    """One page ordered by the (string) id, and the cursor of the next."""
    limit: int = args["limit"]
    if args.get("cursor"):
        stmt = stmt.where(id_column > decode_cursor(args["cursor"]))
    rows = list(session.scalars(stmt.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}


def _filtered(stmt: sa.Select[Any], model: Any, query: dict[str, Any]) -> sa.Select[Any]:
    for name in ("teacher_id", "host_school_id", "status"):
        if name in query:
            stmt = stmt.where(getattr(model, name) == query[name])
    first, last = (
        (model.start_on, model.end_on) if model is LeaveRequest else (model.day, model.day)
    )
    if "from_" in query:
        stmt = stmt.where(last >= query["from_"])
    if "to" in query:
        stmt = stmt.where(first <= query["to"])
    return stmt


def _leave(request_id: str, action: Action) -> LeaveRequest:
    row: LeaveRequest = get_scoped(
        db.session,
        current_principal(),
        Resource.LEAVE_REQUEST,
        action,
        request_id,
        for_update=action is not Action.READ,
    )
    return row


def _correction(request_id: str, action: Action) -> PunchCorrection:
    row: PunchCorrection = get_scoped(
        db.session,
        current_principal(),
        Resource.PUNCH_CORRECTION,
        action,
        request_id,
        for_update=action is not Action.READ,
    )
    return row


# --- leave requests ---------------------------------------------------------------------------


@leave_blp.route("")
class LeaveRequests(MethodView):
    @requires(Resource.LEAVE_REQUEST, Action.READ)
    @leave_blp.arguments(RequestQueryArgs, location="query")
    @leave_blp.arguments(RequestPageArgs, location="query")
    @leave_blp.response(200, LeaveRequestPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> Any:
        """Requests you may see; `from`/`to` select those whose range touches the span."""
        stmt = scoped_select(current_principal(), Resource.LEAVE_REQUEST, Action.READ)
        stmt = _filtered(stmt.where(LeaveRequest.deleted_at.is_(None)), LeaveRequest, query)
        return _page(db.session, stmt, LeaveRequest.id, page)

    @requires(Resource.LEAVE_REQUEST, Action.WRITE)
    @leave_blp.arguments(LeaveRequestCreateArgs)
    @leave_blp.response(201, LeaveRequestSchema)
    def post(self, data: dict[str, Any]) -> LeaveRequest:
        """File leave: a teacher for themself, a host school admin or bureau for a teacher.

        422 `overlapping_leave` (names the other request), `no_active_secondment`,
        `unknown_leave_type`, `no_workday_in_range`, `calendar_not_published`,
        `invalid_field`.
        """
        return services.file_leave(
            db.session,
            current_principal(),
            inputs.clean_leave(data),
            teacher_id=data.get("teacher_id"),
            record_id=data.get("id"),
        )


@leave_blp.route("/<string:request_id>")
class LeaveRequestById(MethodView):
    @requires(Resource.LEAVE_REQUEST, Action.READ)
    @leave_blp.etag
    @leave_blp.response(200, LeaveRequestSchema)
    def get(self, request_id: str) -> LeaveRequest:
        return _leave(request_id, Action.READ)

    @requires(Resource.LEAVE_REQUEST, Action.WRITE)
    @leave_blp.etag
    @leave_blp.arguments(LeaveRequestPatchArgs)
    @leave_blp.response(200, LeaveRequestSchema)
    def patch(self, changes: dict[str, Any], request_id: str) -> LeaveRequest:
        """Edit a pending request (send the GET's ETag as If-Match); re-checked whole."""
        row = _leave(request_id, Action.WRITE)
        leave_blp.check_etag(row, LeaveRequestSchema)
        return services.revise_leave(db.session, current_principal(), row, changes)


@leave_blp.route("/<string:request_id>/approve")
class ApproveLeave(MethodView):
    @requires(Resource.LEAVE_REQUEST, Action.APPROVE)
    @leave_blp.arguments(RequestDecisionArgs)
    @leave_blp.response(200, LeaveRequestSchema)
    def post(self, args: dict[str, Any], request_id: str) -> Any:
        """Approve a pending request (409 `already_decided` otherwise)."""
        row = _leave(request_id, Action.APPROVE)
        return services.decide(
            db.session, current_principal(), row, approve=True, note=args["note"]
        )


@leave_blp.route("/<string:request_id>/reject")
class RejectLeave(MethodView):
    @requires(Resource.LEAVE_REQUEST, Action.APPROVE)
    @leave_blp.arguments(RequestDecisionArgs)
    @leave_blp.response(200, LeaveRequestSchema)
    def post(self, args: dict[str, Any], request_id: str) -> Any:
        """Reject a pending request, saying why in `note`."""
        row = _leave(request_id, Action.APPROVE)
        return services.decide(
            db.session, current_principal(), row, approve=False, note=args["note"]
        )


@leave_blp.route("/<string:request_id>/cancel")
class CancelLeave(MethodView):
    @requires(Resource.LEAVE_REQUEST, Action.WRITE)
    @leave_blp.response(200, LeaveRequestSchema)
    def post(self, request_id: str) -> Any:
        """Withdraw a request: a teacher an approved one only before its first day (422
        `not_cancellable`); the host school at any time."""
        principal = current_principal()
        row = _leave(request_id, Action.WRITE)
        return services.cancel(
            db.session, row, by_teacher=principal.role == "teacher", today=clock.today()
        )


# --- punch corrections ------------------------------------------------------------------------


@corrections_blp.route("")
class PunchCorrections(MethodView):
    @requires(Resource.PUNCH_CORRECTION, Action.READ)
    @corrections_blp.arguments(RequestQueryArgs, location="query")
    @corrections_blp.arguments(RequestPageArgs, location="query")
    @corrections_blp.response(200, PunchCorrectionPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> Any:
        """Corrections you may see; `from`/`to` select by their day."""
        stmt = scoped_select(current_principal(), Resource.PUNCH_CORRECTION, Action.READ)
        stmt = _filtered(stmt.where(PunchCorrection.deleted_at.is_(None)), PunchCorrection, query)
        return _page(db.session, stmt, PunchCorrection.id, page)

    @requires(Resource.PUNCH_CORRECTION, Action.WRITE)
    @corrections_blp.arguments(PunchCorrectionCreateArgs)
    @corrections_blp.response(201, PunchCorrectionSchema)
    def post(self, data: dict[str, Any]) -> PunchCorrection:
        """Ask to count a missed punch at a stated time (China time).

        422 `correction_cap_reached`, `correction_window_exceeded`, `duplicate_correction`,
        `day_in_future`, `not_a_workday`, `no_active_secondment`, `calendar_not_published`,
        `invalid_field`.
        """
        return services.file_correction(
            db.session,
            current_principal(),
            inputs.clean_correction(data),
            clock.today(),
            teacher_id=data.get("teacher_id"),
            record_id=data.get("id"),
        )


@corrections_blp.route("/<string:request_id>")
class PunchCorrectionById(MethodView):
    @requires(Resource.PUNCH_CORRECTION, Action.READ)
    @corrections_blp.etag
    @corrections_blp.response(200, PunchCorrectionSchema)
    def get(self, request_id: str) -> PunchCorrection:
        return _correction(request_id, Action.READ)

    @requires(Resource.PUNCH_CORRECTION, Action.WRITE)
    @corrections_blp.etag
    @corrections_blp.arguments(PunchCorrectionPatchArgs)
    @corrections_blp.response(200, PunchCorrectionSchema)
    def patch(self, changes: dict[str, Any], request_id: str) -> PunchCorrection:
        """Edit a pending correction (If-Match: the GET's ETag); re-checked whole."""
        row = _correction(request_id, Action.WRITE)
        corrections_blp.check_etag(row, PunchCorrectionSchema)
        return services.revise_correction(
            db.session, current_principal(), row, changes, clock.today()
        )


@corrections_blp.route("/<string:request_id>/approve")
class ApproveCorrection(MethodView):
    @requires(Resource.PUNCH_CORRECTION, Action.APPROVE)
    @corrections_blp.arguments(RequestDecisionArgs)
    @corrections_blp.response(200, PunchCorrectionSchema)
    def post(self, args: dict[str, Any], request_id: str) -> Any:
        row = _correction(request_id, Action.APPROVE)
        return services.decide(
            db.session, current_principal(), row, approve=True, note=args["note"]
        )


@corrections_blp.route("/<string:request_id>/reject")
class RejectCorrection(MethodView):
    @requires(Resource.PUNCH_CORRECTION, Action.APPROVE)
    @corrections_blp.arguments(RequestDecisionArgs)
    @corrections_blp.response(200, PunchCorrectionSchema)
    def post(self, args: dict[str, Any], request_id: str) -> Any:
        row = _correction(request_id, Action.APPROVE)
        return services.decide(
            db.session, current_principal(), row, approve=False, note=args["note"]
        )


@corrections_blp.route("/<string:request_id>/cancel")
class CancelCorrection(MethodView):
    @requires(Resource.PUNCH_CORRECTION, Action.WRITE)
    @corrections_blp.response(200, PunchCorrectionSchema)
    def post(self, request_id: str) -> Any:
        """Withdraw a correction: a teacher a pending one; the host school an approved one."""
        principal = current_principal()
        row = _correction(request_id, Action.WRITE)
        return services.cancel(
            db.session, row, by_teacher=principal.role == "teacher", today=clock.today()
        )
