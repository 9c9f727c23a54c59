"""Monthly attendance reports over HTTP (003 §四(三)4: the host school keeps attendance,
sums each month and sends it back to the home school, which pays from it).

- ``/host``: a host school's month — read, tallied on request, confirmed by its admin (or
  the bureau). Confirming needs the ETag of the version read (If-Match): a draft's rows
  are replaced in place when late data re-tallies it, and nobody confirms rows unseen.
- ``/home``: a home school's month — read and acknowledged by its admin; ``/inbox`` lists
  the current versions it has not acknowledged yet.
- ``/runs``: the tally jobs' progress. ``/webhook``: the home school's signed endpoint.
- ``export.csv`` / ``export.xlsx`` of any version (see ``reports.exports``).

Access is the central policy's (``HOST_REPORT``, ``HOME_REPORT``, ``REPORT_RUN``): a
report outside the caller's scope is 404, a role that may never act is 403. Lists are
newest first (month, then issue time), paged by cursor.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response, request
from flask.views import MethodView
from flask_smorest.exceptions import PreconditionFailed, PreconditionRequired
from sqlalchemy.sql import visitors
from werkzeug.http import quote_etag

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
from backend.clock import month_bounds, today
from backend.db import db, utcnow
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.extensions import Blueprint
from backend.org.models import School
from backend.pagination import PageArgs, decode_cursor, encode_cursor, page_schema
from backend.reports import exports, services, webhooks
from backend.reports.jobs import request_tally, run_key
from backend.reports.models import HomeMonthReport, HostMonthReport, ReportDelivery, ReportRun
from backend.reports.schemas import (
    HomeReportSchema,
    HomeReportSummarySchema,
    HostReportSchema,
    HostReportSummarySchema,
    ReportQueryArgs,
    RunQueryArgs,
    RunSchema,
    TallyArgs,
    WebhookArgs,
    WebhookSchema,
)

reports_blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description=(
        "考勤汇总: monthly attendance of seconded teachers, confirmed by the host school and"
        " delivered to the home school (003 §四(三)4)"
    ),
)

HostReportPage = page_schema(HostReportSummarySchema, "HostReportPage")
HomeReportPage = page_schema(HomeReportSummarySchema, "HomeReportPage")
RunPage = page_schema(RunSchema, "RunPage")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_FORMATS = "any(csv, xlsx)"


# --- helpers -------------------------------------------------------------------------------


def _newest_first(stmt: sa.Select[Any], order: list[Any], page: dict[str, Any]) -> dict[str, Any]:
    """One page of ``stmt`` ordered by ``order`` descending (its last column the id), with
    the cursor of the next page: the id of the last row, whose sort keys are looked up."""
    limit: int = page["limit"]
    if page.get("cursor"):
        id_column = order[-1]
        last = db.session.execute(
            sa.select(*order).where(id_column == decode_cursor(page["cursor"]))
        ).one_or_none()
        if last is None:
            raise InvalidInput(
                "Not a cursor returned by this API",
                errors={"query": {"cursor": ["Not a cursor returned by this API"]}},
            )
        # Keyset "after" for a descending order: (a, b, id) < (a', b', id') row-wise.
        after = [
            sa.and_(*(order[j] == last[j] for j in range(i)), order[i] < last[i])
            for i in range(len(order))
        ]
        stmt = stmt.where(sa.or_(*after))
    rows = list(db.session.scalars(stmt.order_by(*(c.desc() for c in order)).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}


def _filtered(stmt: sa.Select[Any], model: Any, query: dict[str, Any]) -> sa.Select[Any]:
    if "school_id" in query:
        stmt = stmt.where(model.school_id == query["school_id"])
    if "month" in query:
        stmt = stmt.where(model.month == query["month"])
    if "current" in query:
        stmt = stmt.where(model.is_current.is_(query["current"]))
    if "status" in query:
        stmt = stmt.where(model.status == query["status"])
    return stmt


def _may_approve_host_school(principal: Principal, school_id: uuid.UUID) -> bool:
    """Whether the caller may confirm (so ask for a tally of) the school's host months:
    the policy's condition on a report row, asked of a row that would belong to it."""
    condition = scope(principal, Resource.HOST_REPORT, Action.APPROVE)
    column = HostMonthReport.__table__.c.school_id

    def substitute(element: Any, **_: Any) -> Any:
        if (
            isinstance(element, sa.Column)
            and element.table is column.table
            and element.name == column.name
        ):
            return sa.literal(school_id, sa.Uuid())
        return None

    probe = visitors.replacement_traverse(condition, {}, substitute)
    return bool(db.session.scalar(sa.select(sa.literal(True)).where(probe)))


def _school_name(school_id: uuid.UUID) -> str:
    name = db.session.scalar(sa.select(School.name).where(School.id == school_id))
    return name or str(school_id)


def _etag_data(report: HostMonthReport) -> dict[str, Any]:
    # A draft keeps its id while a re-tally replaces its rows: the hash names the rows.
    return {"id": str(report.id), "status": report.status, "content_hash": report.content_hash}


def _etag(data: dict[str, Any]) -> str:
    return str(reports_blp._generate_etag(data))


def _require_if_match(current: str) -> None:
    if not request.if_match:
        raise PreconditionRequired
    if current not in request.if_match:
        raise PreconditionFailed


def _download(content: bytes, mimetype: str, name: str, fallback: str) -> Response:
    response = Response(content, mimetype=mimetype)
    # RFC 6266: an ASCII name for old clients, the Chinese one for the rest.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    )
    # Pay data: not to be kept by shared caches or the browser's.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _export(export: exports.ReportExport, fmt: str, kind: str) -> Response:
    fallback = f"attendance-{kind}-{export.month:%Y-%m}-v{export.version}.{fmt}"
    if fmt == "csv":
        return _download(
            exports.to_csv(export), "text/csv", exports.filename(export, "csv"), fallback
        )
    return _download(exports.to_xlsx(export), XLSX, exports.filename(export, "xlsx"), fallback)


# --- host school months ----------------------------------------------------------------------


def _host(report_id: uuid.UUID, action: Action, *, lock: bool = False) -> HostMonthReport:
    report: HostMonthReport = get_scoped(
        db.session, current_principal(), Resource.HOST_REPORT, action, report_id, for_update=lock
    )
    return report


@reports_blp.route("/host")
class HostReports(MethodView):
    @requires(Resource.HOST_REPORT, Action.READ)
    @reports_blp.arguments(ReportQueryArgs, location="query")
    @reports_blp.arguments(PageArgs, location="query")
    @reports_blp.response(200, HostReportPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Host school months within your scope, newest first (rows: see each version)."""
        stmt = _filtered(
            scoped_select(current_principal(), Resource.HOST_REPORT, Action.READ),
            HostMonthReport,
            query,
        )
        order = [HostMonthReport.month, HostMonthReport.created_at, HostMonthReport.id]
        return _newest_first(stmt, order, page)


@reports_blp.route("/host/tally")
class HostTally(MethodView):
    @requires(Resource.HOST_REPORT, Action.APPROVE)
    @reports_blp.arguments(TallyArgs)
    @reports_blp.response(202, RunSchema)
    @reports_blp.alt_response(200, schema=RunSchema, description="One was already queued")
    def post(self, data: dict[str, Any]) -> tuple[ReportRun, int]:
        """Ask for a tally of a host school's month that is over (a draft, or an amendment
        of a confirmed month if its rows changed). 202 with the queued run; 200 with the
        run already queued or running (it reads the data when it runs).

        404 if the school is not yours to confirm; 422 ``month_not_over``.
        """
        principal = current_principal()
        school_id: uuid.UUID = data["school_id"]
        month: date = data["month"]
        if (
            not _may_approve_host_school(principal, school_id)
            or db.session.get(School, school_id) is None
        ):
            raise NotFound(f"No school {school_id} whose months you confirm")
        if month_bounds(month)[1] >= today():
            raise services.MonthNotOver(f"{month:%Y-%m} is not over yet", rule=services.RULE)
        run = request_tally(db.session, school_id, month, f"asked for by {principal.username}")
        if run is not None:
            return run, 202
        active = db.session.scalars(
            sa.select(ReportRun)
            .where(ReportRun.key == run_key(school_id, month))
            .order_by(
                ReportRun.status.in_(("queued", "running")).desc(), ReportRun.created_at.desc()
            )
            .limit(1)
        ).one()
        return active, 200


@reports_blp.route("/host/<uuid:report_id>")
class HostReportById(MethodView):
    @requires(Resource.HOST_REPORT, Action.READ)
    @reports_blp.etag
    @reports_blp.response(200, HostReportSchema)
    def get(self, report_id: uuid.UUID) -> HostMonthReport:
        """One version: rows, diff against the previous one, hash, status (its ETag is what
        confirming sends)."""
        report = _host(report_id, Action.READ)
        reports_blp.set_etag(_etag_data(report))
        return report


@reports_blp.route("/host/<uuid:report_id>/confirm")
class HostReportConfirm(MethodView):
    @requires(Resource.HOST_REPORT, Action.APPROVE)
    @reports_blp.response(200, HostReportSchema)
    def post(self, report_id: uuid.UUID) -> tuple[HostMonthReport, int, dict[str, str]]:
        """Confirm the current draft, with the ETag of your GET as If-Match (428 without
        it, 412 if it was re-tallied since); the home schools get their reports.

        409 if it is not the current draft; 422 ``month_not_over`` or
        ``calendar_not_published``.
        """
        report = _host(report_id, Action.APPROVE, lock=True)
        _require_if_match(_etag(_etag_data(report)))
        services.confirm(db.session, report, current_principal())
        return report, 200, {"ETag": quote_etag(_etag(_etag_data(report)))}


@reports_blp.route(f"/host/<uuid:report_id>/export.<{EXPORT_FORMATS}:fmt>")
class HostReportExport(MethodView):
    @requires(Resource.HOST_REPORT, Action.READ)
    @reports_blp.response(200, description="考勤汇总表 as CSV (UTF-8 with BOM) or XLSX")
    def get(self, report_id: uuid.UUID, fmt: str) -> Response:
        """Any version as a file: CSV for other systems, XLSX to print, sign and seal."""
        report = _host(report_id, Action.READ)
        export = exports.ReportExport(
            kind="host",
            school_name=_school_name(report.school_id),
            month=report.month,
            version=report.version,
            amendment=report.amendment,
            rows=report.rows,
            diff=report.diff,
            generated_at=utcnow(),
            status=exports.HOST_STATUS_NAMES.get(report.status, report.status),
        )
        return _export(export, fmt, "host")


# --- home school months ----------------------------------------------------------------------


def _home(report_id: uuid.UUID, action: Action, *, lock: bool = False) -> HomeMonthReport:
    report: HomeMonthReport = get_scoped(
        db.session, current_principal(), Resource.HOME_REPORT, action, report_id, for_update=lock
    )
    return report


class _HomeReportView:
    """A home report with its deliveries (inbox, webhook) for the response."""

    def __init__(self, report: HomeMonthReport) -> None:
        self._report = report
        self.deliveries = list(
            db.session.scalars(
                sa.select(ReportDelivery)
                .where(ReportDelivery.report_id == report.id)
                .order_by(ReportDelivery.channel)
            )
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._report, name)


_HOME_ORDER = [HomeMonthReport.month, HomeMonthReport.created_at, HomeMonthReport.id]


@reports_blp.route("/home")
class HomeReports(MethodView):
    @requires(Resource.HOME_REPORT, Action.READ)
    @reports_blp.arguments(ReportQueryArgs, location="query")
    @reports_blp.arguments(PageArgs, location="query")
    @reports_blp.response(200, HomeReportPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Home school months within your scope, newest first."""
        stmt = _filtered(
            scoped_select(current_principal(), Resource.HOME_REPORT, Action.READ),
            HomeMonthReport,
            query,
        )
        return _newest_first(stmt, _HOME_ORDER, page)


@reports_blp.route("/inbox")
class Inbox(MethodView):
    @requires(Resource.HOME_REPORT, Action.APPROVE)
    @reports_blp.arguments(PageArgs, location="query")
    @reports_blp.response(200, HomeReportPage)
    def get(self, page: dict[str, Any]) -> dict[str, Any]:
        """Your school's current home reports not acknowledged yet, newest first (school
        admins only)."""
        stmt = scoped_select(current_principal(), Resource.HOME_REPORT, Action.APPROVE).where(
            HomeMonthReport.is_current.is_(True), HomeMonthReport.acknowledged_at.is_(None)
        )
        return _newest_first(stmt, _HOME_ORDER, page)


@reports_blp.route("/home/<uuid:report_id>")
class HomeReportById(MethodView):
    @requires(Resource.HOME_REPORT, Action.READ)
    @reports_blp.response(200, HomeReportSchema)
    def get(self, report_id: uuid.UUID) -> _HomeReportView:
        """One version: rows, diff, hash, deliveries, acknowledgement."""
        return _HomeReportView(_home(report_id, Action.READ))


@reports_blp.route("/home/<uuid:report_id>/acknowledge")
class HomeReportAcknowledge(MethodView):
    @requires(Resource.HOME_REPORT, Action.APPROVE)
    @reports_blp.response(200, HomeReportSchema)
    def post(self, report_id: uuid.UUID) -> _HomeReportView:
        """Acknowledge receipt of this version (409 if it was already)."""
        report = _home(report_id, Action.APPROVE, lock=True)
        services.acknowledge(db.session, report, current_principal())
        return _HomeReportView(report)


@reports_blp.route(f"/home/<uuid:report_id>/export.<{EXPORT_FORMATS}:fmt>")
class HomeReportExport(MethodView):
    @requires(Resource.HOME_REPORT, Action.READ)
    @reports_blp.response(200, description="考勤汇总表 as CSV (UTF-8 with BOM) or XLSX")
    def get(self, report_id: uuid.UUID, fmt: str) -> Response:
        """Any version as a file: CSV for payroll systems, XLSX to print."""
        report = _home(report_id, Action.READ)
        hosts = {uuid.UUID(r["host_school_id"]) for r in report.rows if r.get("host_school_id")}
        names = {
            str(school_id): name
            for school_id, name in db.session.execute(
                sa.select(School.id, School.name).where(School.id.in_(hosts))
            )
        }
        state = "当前版本" if report.is_current else "已被新版本取代"
        if report.acknowledged_at is not None:
            state += "，已签收"
        export = exports.ReportExport(
            kind="home",
            school_name=_school_name(report.school_id),
            month=report.month,
            version=report.version,
            amendment=report.amendment,
            rows=report.rows,
            diff=report.diff,
            generated_at=utcnow(),
            status=state,
            school_names=names,
        )
        return _export(export, fmt, "home")


# --- runs ------------------------------------------------------------------------------------


@reports_blp.route("/runs")
class Runs(MethodView):
    @requires(Resource.REPORT_RUN, Action.READ)
    @reports_blp.arguments(RunQueryArgs, location="query")
    @reports_blp.arguments(PageArgs, location="query")
    @reports_blp.response(200, RunPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Report jobs and their progress (queued, running, done, failed with the error),
        newest first."""
        stmt = _filtered(
            scoped_select(current_principal(), Resource.REPORT_RUN, Action.READ), ReportRun, query
        )
        return _newest_first(stmt, [ReportRun.created_at, ReportRun.id], page)


@reports_blp.route("/runs/<uuid:run_id>")
class RunById(MethodView):
    @requires(Resource.REPORT_RUN, Action.READ)
    @reports_blp.response(200, RunSchema)
    def get(self, run_id: uuid.UUID) -> ReportRun:
        run: ReportRun = get_scoped(
            db.session, current_principal(), Resource.REPORT_RUN, Action.READ, run_id
        )
        return run


# --- the home school's webhook -----------------------------------------------------------------


def _own_school(principal: Principal) -> uuid.UUID:
    # The policy lets only school admins acknowledge home reports; where the webhook goes
    # is the same decision. A caller without a school has no webhook to set.
    if principal.school_id is None:
        raise PermissionDenied("Only a school's admin sets its report webhook")
    return principal.school_id


def _webhook_etag(hook: webhooks.ReportWebhook) -> str:
    return _etag(
        {"id": str(hook.id), "url": hook.url, "active": hook.active, "at": str(hook.updated_at)}
    )


def _webhook_body(hook: webhooks.ReportWebhook, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "school_id": hook.school_id,
        "url": hook.url,
        "active": hook.active,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }
    if secret is not None:
        body["secret"] = secret
    return body


@reports_blp.route("/webhook")
class Webhook(MethodView):
    @requires(Resource.HOME_REPORT, Action.APPROVE)
    @reports_blp.response(200, WebhookSchema)
    def get(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Your school's webhook (never its secret); 404 if none is set."""
        hook = webhooks.find(db.session, _own_school(current_principal()))
        if hook is None:
            raise NotFound("Your school has no report webhook")
        return _webhook_body(hook), 200, {"ETag": quote_etag(_webhook_etag(hook))}

    @requires(Resource.HOME_REPORT, Action.APPROVE)
    @reports_blp.arguments(WebhookArgs)
    @reports_blp.response(200, WebhookSchema)
    @reports_blp.alt_response(201, schema=WebhookSchema, description="Created, with its secret")
    def put(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Set where your school's reports are POSTed. Creating it (201) returns the
        secret once; changing it (200) needs the ETag of your GET as If-Match and keeps the
        secret unless ``rotate_secret`` (then the new one is returned, once).

        422 if the url is not https:// (plain http only to 127.0.0.1 or localhost).
        """
        school_id = _own_school(current_principal())
        existing = webhooks.find(db.session, school_id, lock=True)
        if existing is None and request.if_match:
            raise PreconditionFailed
        if existing is not None:
            _require_if_match(_webhook_etag(existing))
        hook, secret = webhooks.configure(
            db.session,
            school_id,
            data["url"],
            active=data["active"],
            rotate_secret=data["rotate_secret"],
        )
        status = 201 if existing is None else 200
        return _webhook_body(hook, secret), status, {"ETag": quote_etag(_webhook_etag(hook))}

    @requires(Resource.HOME_REPORT, Action.APPROVE)
    @reports_blp.response(204)
    def delete(self) -> None:
        """Stop webhook delivery (reports still reach the inbox). If-Match, if sent, must
        match."""
        hook = webhooks.find(db.session, _own_school(current_principal()), lock=True)
        if hook is None:
            raise NotFound("Your school has no report webhook")
        if request.if_match and _webhook_etag(hook) not in request.if_match:
            raise PreconditionFailed
        webhooks.remove(db.session, hook)
