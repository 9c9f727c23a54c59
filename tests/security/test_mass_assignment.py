"""Mass assignment (issue 9): no write route lets a client set a server-owned field.

Two walks over the app itself, so that a new write route cannot be forgotten:

* ``test_every_write_route_is_covered_or_not_applicable`` walks the URL map for every
  POST/PUT/PATCH route under ``/api/v1``; each must be a case of ``CASES`` or be listed,
  with its reason, in ``NOT_APPLICABLE``.
* ``test_no_write_schema_loads_a_server_owned_field`` reads the argument schemas that
  flask-smorest registered for every write route (nested schemas included): each raises
  on unknown fields, and loads no server-owned name unless ``CLIENT_CHOSEN`` says why the
  client legitimately chooses it on that route.

Then each case of ``CASES`` builds its target legitimately (the ``world`` fixture, the
services, or earlier requests) and sends the legitimate body plus every server-owned field
the route does not take, with hostile values (owner ids name county B's real objects):

* a route with a body schema must answer 422 naming exactly those fields, leave the
  stored rows (re-read with a Core select, no identity map) unchanged, and then accept
  the legitimate body alone, so the case is known to reach the route;
* an action without a body schema (revoke, cancel, commit, confirm...) ignores the body
  and runs.

Either way the row written (the target, or the rows a create added) holds none of the
hostile values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import RAISE, Schema, fields
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance.calendar_models import (
    PublishedYear,
    SchoolCalendarPeriod,
    SchoolDayException,
)
from backend.attendance.day_models import MonthlyAssessment
from backend.attendance.models import CheckIn
from backend.attendance.request_models import LeaveRequest, PunchCorrection
from backend.attendance.rule_models import AttendanceRule
from backend.auth.models import Device, User
from backend.classes.models import ClassSession, TimetableEntry
from backend.clock import CHINA
from backend.db import Base
from backend.exchange.models import Secondment, Teacher
from backend.inspection.models import InspectionPlan, InspectorConflict
from backend.org.models import Community, MembershipChange, Region, School
from backend.reports.models import HomeMonthReport, HostMonthReport
from backend.reports.webhooks import ReportWebhook
from backend.scoring.models import EvidenceItem, ManualScore, Rubric
from backend.scoring.rubric import default_definition
from sync.models import QuarantinedRecord
from tests import factories
from tests.classes.support import STANDARD_PHOTOS, api_form, received, timetable_body
from tests.factories import World
from tests.inspection.plan_support import AFTER, BEFORE, PERIOD_END, PERIOD_START, inspector
from tests.sync.phone import check_in, phone_for

API = "/api/v1"
WRITE_METHODS = {"POST", "PUT", "PATCH"}

# Server-owned fields and the hostile values a client sends for them. Values are
# plausible (a foreign county's ids, a decided status), so a field applied would show.
# Each value is one the server never produces itself, so a value applied is recognised.
FOREIGN = uuid.UUID("00000000-0000-4000-8000-00000000beef")
STAMP = "2001-02-03T04:05:06+00:00"
HOSTILE: dict[str, Any] = {
    "id": str(FOREIGN),
    "teacher_id": str(FOREIGN),
    "submitted_by_id": str(FOREIGN),
    "inspector_id": str(FOREIGN),
    "created_by_id": str(FOREIGN),
    "school_id": str(FOREIGN),
    "community_id": str(FOREIGN),
    "status": "hostile",
    "review_status": "hostile",
    "revision": 987654,
    "reviewed_by_id": str(FOREIGN),
    "decided_by_id": str(FOREIGN),
    "approved": "hostile",
    "confirmed_at": STAMP,
    "acknowledged_at": STAMP,
    "flags": [{"code": "hostile", "reason": "hostile"}],
    "open_flags": 987654,
    "complete": "hostile",
    "missing": ["hostile"],
    "rows": [{"teacher_id": str(FOREIGN), "days": 31}],
    "content_hash": "f" * 64,
    "version": 987654,
    "seed": "f" * 64,
    "seed_commitment": "f" * 64,
    "inputs": {"candidates": ["hostile"]},
    "result_digest": "f" * 64,
    "created_at": STAMP,
    "updated_at": STAMP,
    "server_serial": 987654,
    "deleted_at": STAMP,
}

# Server-owned names a route's schema does load, and why the client chooses them there.
CLIENT_CHOSEN: dict[str, dict[str, str]] = {
    "POST /api/v1/classes/sessions": {
        "id": "phones create records offline with their own UUIDs (sync's client ids)",
        "community_id": "the community the report is filed in; checked against scope",
    },
    "PATCH /api/v1/classes/sessions/<string:session_id>": {
        "community_id": "a report may be moved to another community of the teacher's",
    },
    "POST /api/v1/classes/timetable": {"community_id": "the community of the entry; scoped"},
    "POST /api/v1/evidence": {
        "id": "client-created record id, as for sync",
        "community_id": "the community the evidence is filed in; checked against scope",
    },
    "POST /api/v1/leave-requests": {
        "id": "client-created record id, as for sync",
        "teacher_id": "admins file for a teacher they keep; a teacher only for themself "
        "(tests/attendance/test_leave_requests.py::test_a_teacher_files_only_for_themself)",
    },
    "POST /api/v1/punch-corrections": {
        "id": "client-created record id, as for sync",
        "teacher_id": "admins file for a teacher they keep "
        "(tests/attendance/test_punch_corrections.py::test_admins_file_for_the_teachers_"
        "they_keep)",
    },
    "POST /api/v1/communities/<uuid:community_id>/membership-changes": {
        "school_id": "the school asking to join or leave; checked against scope",
    },
    "POST /api/v1/inspection/conflicts": {
        "inspector_id": "the recused inspector is what a conflict records",
        "school_id": "the school the inspector must not visit",
        "teacher_id": "the teacher the inspector must not visit",
    },
    "POST /api/v1/reports/host/tally": {"school_id": "the host school asked for; scoped"},
    "POST /api/v1/secondments": {"teacher_id": "the teacher seconded; scoped"},
    "POST /api/v1/users": {
        "teacher_id": "the teacher a teacher login belongs to; bureau-only, scoped",
        "school_id": "the school of a school_admin login; bureau-only, scoped",
    },
    "POST /api/v1/reviews/class_session/<string:record_id>/reject": {
        "revision": "the revision the reviewer saw (optimistic concurrency), not set by it",
    },
    "POST /api/v1/reviews/class_session/<string:record_id>/verify": {
        "revision": "the revision the reviewer saw (optimistic concurrency), not set by it",
    },
    "POST /api/v1/reviews/evidence/<string:record_id>/reject": {
        "revision": "the revision the reviewer saw (optimistic concurrency), not set by it",
    },
    "POST /api/v1/reviews/evidence/<string:record_id>/verify": {
        "revision": "the revision the reviewer saw (optimistic concurrency), not set by it",
    },
}

# Write routes outside this test, each with the reason. The schema walk still covers
# the ones that have argument schemas.
NOT_APPLICABLE: dict[str, str] = {
    # Credentials in, tokens out: no stored object is described by the body.
    "POST /api/v1/auth/login": "credentials, not an object",
    "POST /api/v1/auth/refresh": "a refresh token, not an object",
    "POST /api/v1/auth/logout": "no body",
    # tus 1.0.0: the protocol's headers, not JSON; the server keeps the offsets and
    # sha256 itself (tests/media/test_tus.py).
    "POST /api/v1/uploads": "tus creation (headers only)",
    "POST /api/v1/uploads/<uuid:upload_id>": "tus (X-HTTP-Method-Override PATCH)",
    "PATCH /api/v1/uploads/<uuid:upload_id>": "tus chunk (bytes, not JSON)",
    # WatermelonDB push: server-owned columns are stripped or refused per table by the
    # registry, covered by tests/sync/test_push_rules.py, tests/sync/test_push_edges.py,
    # tests/sync/test_request_tables.py, tests/classes/test_sessions_sync.py,
    # tests/scoring/test_evidence_sync.py and tests/inspection/test_visits_sync.py.
    "POST /api/v1/sync": "sync push (own tests, above)",
    # Files, not JSON: every column is a declared import column; an unknown header is
    # refused (tests/imports/test_columns.py, tests/imports/test_api.py).
    "POST /api/v1/imports/schools": "spreadsheet import",
    "POST /api/v1/imports/teachers": "spreadsheet import",
    "POST /api/v1/imports/secondments": "spreadsheet import",
}


@dataclass
class Ctx:
    client: FlaskClient
    session: Session
    world: World
    app: Flask
    set_today: Callable[[date], None]

    def ok(self, method: str, url: str, persona: str, body: Any = None, **headers: str) -> Any:
        response = self.client.open(
            url, method=method, json=body, headers={**self.world.headers[persona], **headers}
        )
        assert response.status_code < 300, (method, url, response.get_json())
        return response.get_json()

    def etag(self, url: str, persona: str) -> dict[str, str]:
        """If-Match for the object at ``url`` (none where its GET sends no ETag)."""
        response = self.client.get(url, headers=self.world.headers[persona])
        assert response.status_code == 200, (url, response.get_json())
        etag = response.headers.get("ETag")
        return {"If-Match": etag} if etag else {}


@dataclass
class Target:
    """What a case sends, and which stored rows must not change."""

    url: str
    body: dict[str, Any]
    model: type[Base]
    key: Any = None  # the row's primary key; None: the whole table (creates)
    etag_url: str | None = None  # GET this for If-Match before each write


@dataclass(frozen=True)
class Case:
    route: str  # "METHOD rule", as the URL map spells it
    persona: str
    build: Callable[[Ctx], Target]
    today: date | None = None


# --- builders -----------------------------------------------------------------------------


def _w(ctx: Ctx) -> World:
    return ctx.world


def _region_post(ctx: Ctx) -> Target:
    body = {"code": factories.next_code("R"), "name": "新区", "level": "county"}
    return Target(f"{API}/regions", {**body, "parent_id": str(ctx.world.city.id)}, Region)


def _region_patch(ctx: Ctx) -> Target:
    url = f"{API}/regions/{ctx.world.county_a.id}"
    return Target(url, {"name": "改名县"}, Region, ctx.world.county_a.id, url)


def _school_body(ctx: Ctx) -> dict[str, Any]:
    return {
        "code": factories.next_code("S"),
        "name": "新学校",
        "kind": "primary",
        "locality": "rural",
        "student_count": 120,
        "region_id": str(ctx.world.county_a.id),
        "latitude": 35.9,
        "longitude": 105.7,
        "geofence_radius_m": 300,
    }


def _school_post(ctx: Ctx) -> Target:
    return Target(f"{API}/schools", _school_body(ctx), School)


def _school_patch(ctx: Ctx) -> Target:
    url = f"{API}/schools/{ctx.world.core_a.id}"
    return Target(url, {"name": "改名学校"}, School, ctx.world.core_a.id, url)


def _community_post(ctx: Ctx) -> Target:
    w = ctx.world
    body = {
        "name": "新共同体",
        "mode": "co_built",
        "region_id": str(w.county_a.id),
        "core_school_id": str(w.other_a.id),
        "term_start": factories.TERM_START.isoformat(),
        "term_end": factories.TERM_END.isoformat(),
        "member_school_ids": [],
    }
    return Target(f"{API}/communities", body, Community)


def _community_patch(ctx: Ctx) -> Target:
    url = f"{API}/communities/{ctx.world.community_a.id}"
    return Target(url, {"name": "改名共同体"}, Community, ctx.world.community_a.id, url)


def _membership_body(ctx: Ctx) -> dict[str, Any]:
    return {
        "school_id": str(ctx.world.other_a.id),
        "action": "join",
        "effective_on": "2027-02-01",
        "reason": "county plan",
    }


def _membership_post(ctx: Ctx) -> Target:
    url = f"{API}/communities/{ctx.world.community_a.id}/membership-changes"
    return Target(url, _membership_body(ctx), Community, ctx.world.community_a.id)


def _membership_decision(verdict: str) -> Callable[[Ctx], Target]:
    def build(ctx: Ctx) -> Target:
        asked = f"{API}/communities/{ctx.world.community_a.id}/membership-changes"
        change = ctx.ok("POST", asked, "bureau_a", _membership_body(ctx))
        url = f"{API}/communities/membership-changes/{change['id']}/{verdict}"
        return Target(url, {"note": "ok"}, MembershipChange, uuid.UUID(change["id"]))

    return build


def _teacher_post(ctx: Ctx) -> Target:
    body = {
        "staff_no": factories.next_code("T"),
        "name": "李老师",
        "home_school_id": str(ctx.world.core_a.id),
        "subjects": ["语文"],
        "phone": "",
    }
    return Target(f"{API}/teachers", body, Teacher)


def _teacher_patch(ctx: Ctx) -> Target:
    url = f"{API}/teachers/{ctx.world.teacher_a2.id}"
    return Target(url, {"name": "王老师"}, Teacher, ctx.world.teacher_a2.id, url)


def _secondment_post(ctx: Ctx) -> Target:
    body = {
        "teacher_id": str(ctx.world.teacher_a2.id),
        "host_school_id": str(ctx.world.member_a.id),
        "kind": "support_teaching",
        "role": "teaching",
        "start_on": "2026-09-01",
        "end_on": "2027-07-15",
    }
    return Target(f"{API}/secondments", body, Secondment)


def _secondment_action(step: str, body: dict[str, Any]) -> Callable[[Ctx], Target]:
    def build(ctx: Ctx) -> Target:
        sid = ctx.world.secondment_a.id
        url = f"{API}/secondments/{sid}/{step}"
        return Target(url, body, Secondment, sid, f"{API}/secondments/{sid}")

    return build


def _user_post(ctx: Ctx) -> Target:
    body = {
        "username": factories.next_code("u"),
        "password": factories.PASSWORD,
        "role": "teacher",
        "teacher_id": str(factories.teacher(ctx.session, ctx.world.core_a).id),
    }
    ctx.session.commit()
    return Target(f"{API}/users", body, User)


def _user_patch(ctx: Ctx) -> Target:
    uid = ctx.world.users["teacher_a2"].id
    url = f"{API}/users/{uid}"
    return Target(url, {"active": False}, User, uid, url)


def _device(ctx: Ctx, step: str) -> Target:
    device = ctx.session.scalars(
        sa.select(Device).where(Device.user_id == ctx.world.users["teacher_a"].id)
    ).one()
    if step == "restore":
        ctx.ok("POST", f"{API}/devices/{device.id}/revoke", "bureau_a")
    return Target(f"{API}/devices/{device.id}/{step}", {}, Device, device.id)


# attendance


def _rule_post(ctx: Ctx) -> Target:
    body = {"region_id": str(ctx.world.county_a.id), "effective_from": "2027-02-01"}

    return Target(f"{API}/attendance/rules", body, AttendanceRule)


def _assessment_put(ctx: Ctx) -> Target:
    url = f"{API}/attendance/assessments/{ctx.world.teacher_a.id}/2026-10"
    body = {"grade": "good", "dimensions": {"diligence": "good"}, "comment": "认真"}
    return Target(url, body, MonthlyAssessment)


def _flag_review(ctx: Ctx) -> Target:
    w = ctx.world
    at = datetime(2026, 10, 12, 7, 55, tzinfo=CHINA)
    flag = {"code": "outside_fence", "reason": "2.1 km beyond the fence"}
    ctx.session.add(
        CheckIn(
            id="ma-ci-1",
            teacher_id=w.teacher_a.id,
            kind="in",
            captured_at=int(at.timestamp() * 1000),
            latitude=35.99,
            longitude=105.73,
            accuracy_m=10.0,
            received_at=at + timedelta(minutes=5),
            secondment_id=w.secondment_a.id,
            host_school_id=w.member_a.id,
            location="outside",
            distance_m=2100.0,
            estimated_at=at,
            estimate_method="skew_only",
            status="flagged",
            flags=[flag],
            client_digest="0" * 64,
        )
    )
    ctx.session.commit()
    url = f"{API}/attendance/check-ins/ma-ci-1/flags/outside_fence/review"
    return Target(url, {"decision": "dismissed", "note": "GPS drift"}, CheckIn, "ma-ci-1")


LEAVE = {
    "leave_type": "personal",
    "start_on": "2026-09-28",
    "end_on": "2026-10-10",
    "reason": "回老家照顾老人",
}
CORRECTION = {"day": "2026-10-09", "kind": "in", "time": "07:55", "reason": "手机没电"}


def _request_post(path: str, body: dict[str, Any], model: type[Base]) -> Callable[[Ctx], Target]:
    def build(ctx: Ctx) -> Target:
        return Target(f"{API}/{path}", body, model)

    return build


def _request_action(
    path: str, body: dict[str, Any], model: type[Base], step: str, decision: dict[str, Any]
) -> Callable[[Ctx], Target]:
    def build(ctx: Ctx) -> Target:
        made = ctx.ok("POST", f"{API}/{path}", "teacher_a", body)
        url = f"{API}/{path}/{made['id']}"
        if step == "patch":
            return Target(url, decision, model, made["id"], url)
        return Target(f"{url}/{step}", decision, model, made["id"])

    return build


def _period_post(ctx: Ctx) -> Target:
    body = {
        "school_year": 2025,
        "kind": "vacation",
        "name": "寒假",
        "start_on": "2026-01-24",
        "end_on": "2026-03-01",
    }
    url = f"{API}/calendar/regions/{ctx.world.city.id}/periods"
    return Target(url, body, SchoolCalendarPeriod)


def _year_put(ctx: Ctx) -> Target:
    body = {
        "notice": "通知",
        "entries": [{"date": "2027-02-10", "kind": "holiday", "name": "春节"}],
    }
    url = f"{API}/calendar/regions/{ctx.world.city.id}/years/2027"
    return Target(url, body, PublishedYear)


def _exception_post(ctx: Ctx) -> Target:
    body = {"kind": "closed", "start_on": "2025-12-15", "end_on": "2025-12-16", "reason": "暴雪"}
    url = f"{API}/calendar/schools/{ctx.world.core_a.id}/exceptions"
    return Target(url, body, SchoolDayException)


# classes and evidence


def _photos(ctx: Ctx) -> None:
    for persona in ("teacher_a", "school_admin_a", "host_admin_a"):
        received(ctx.session, ctx.world.users[persona].id, *STANDARD_PHOTOS)
    ctx.session.commit()


def _timetable_post(ctx: Ctx) -> Target:
    return Target(f"{API}/classes/timetable", timetable_body(ctx.world), TimetableEntry)


def _timetable_patch(ctx: Ctx) -> Target:
    made = ctx.ok("POST", f"{API}/classes/timetable", "school_admin_a", timetable_body(ctx.world))
    url = f"{API}/classes/timetable/{made['id']}"
    return Target(url, {"note": "改"}, TimetableEntry, uuid.UUID(made["id"]), url)


def _session_post(ctx: Ctx) -> Target:
    _photos(ctx)
    return Target(f"{API}/classes/sessions", api_form(ctx.world), ClassSession)


def _session_made(ctx: Ctx) -> str:
    _photos(ctx)
    made = ctx.ok("POST", f"{API}/classes/sessions", "teacher_a", api_form(ctx.world))
    return str(made["id"])


def _session_patch(ctx: Ctx) -> Target:
    sid = _session_made(ctx)
    url = f"{API}/classes/sessions/{sid}"
    return Target(url, {"topic": "改"}, ClassSession, sid, url)


EVIDENCE = {"kind": "teaching_materials", "subject": "数学", "title": "课件"}


def _evidence_body(ctx: Ctx) -> dict[str, Any]:
    day = (clock.today() - timedelta(days=1)).isoformat()
    return {**EVIDENCE, "day": day, "community_id": str(ctx.world.community_a.id)}


def _evidence_post(ctx: Ctx) -> Target:
    return Target(f"{API}/evidence", _evidence_body(ctx), EvidenceItem)


def _evidence_made(ctx: Ctx) -> str:
    return str(ctx.ok("POST", f"{API}/evidence", "school_admin_a", _evidence_body(ctx))["id"])


def _evidence_patch(ctx: Ctx) -> Target:
    eid = _evidence_made(ctx)
    url = f"{API}/evidence/{eid}"
    return Target(url, {"title": "改"}, EvidenceItem, eid, url)


def _review(kind: str, verdict: str) -> Callable[[Ctx], Target]:
    def build(ctx: Ctx) -> Target:
        model: type[Base]
        if kind == "evidence":
            rid, model, read = _evidence_made(ctx), EvidenceItem, f"{API}/evidence"
        else:
            rid, model, read = _session_made(ctx), ClassSession, f"{API}/classes/sessions"
        revision = ctx.ok("GET", f"{read}/{rid}", "bureau_a")["revision"]
        body = {"revision": revision, "reason": "" if verdict == "verify" else "照片不清"}
        return Target(f"{API}/reviews/{kind}/{rid}/{verdict}", body, model, rid)

    return build


def _rubric_post(ctx: Ctx) -> Target:
    body = {"school_year": 2027, "name": "2027年考核细则", "definition": default_definition()}
    return Target(f"{API}/rubrics", {**body, "region_id": str(ctx.world.county_a.id)}, Rubric)


def _manual_score(ctx: Ctx) -> Target:
    url = f"{API}/scorecards/{ctx.world.community_a.id}/2026/manual/outcomes"
    return Target(url, {"points": 7, "note": "进步明显"}, ManualScore)


# inspection

PLANS = f"{API}/inspection/plans"
PLAN = {
    "name": "2026年秋季交流教师随机抽查",
    "period_start": PERIOD_START.isoformat(),
    "period_end": PERIOD_END.isoformat(),
    "target_count": 1,
    "window_days": 3,
}


def _plan_post(ctx: Ctx) -> Target:
    return Target(PLANS, PLAN, InspectionPlan)


def _plan_made(ctx: Ctx, *steps: str) -> str:
    for _ in range(2):
        inspector(ctx.session, ctx.world.county_a.id)
    ctx.session.commit()
    pid = str(ctx.ok("POST", PLANS, "bureau_a", PLAN)["id"])
    for step in steps:
        if step == "reveal-day":
            ctx.set_today(AFTER)
            continue
        body = {"beacon": "体彩 2026-10-09 排列5: 3 1 4 1 5"} if step == "draw" else None
        ctx.ok("POST", f"{PLANS}/{pid}/{step}", "bureau_a", body)
    return pid


def _plan_step(step: str, *before: str) -> Callable[[Ctx], Target]:
    def build(ctx: Ctx) -> Target:
        pid = _plan_made(ctx, *before)
        body = {"beacon": "福彩3D 2026-10-09: 5 8 2"} if step == "draw" else {}
        if step == "patch":
            url = f"{PLANS}/{pid}"
            return Target(url, {"window_days": 4}, InspectionPlan, uuid.UUID(pid), url)
        return Target(f"{PLANS}/{pid}/{step}", body, InspectionPlan, uuid.UUID(pid))

    return build


def _conflict_post(ctx: Ctx) -> Target:
    recused = inspector(ctx.session, ctx.world.county_a.id)
    ctx.session.commit()
    body = {
        "inspector_id": str(recused.id),
        "school_id": str(ctx.world.member_a.id),
        "kind": "own_school",
    }
    return Target(f"{API}/inspection/conflicts", body, InspectorConflict)


# reports

LAST_MONTH = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)


def _tally(ctx: Ctx) -> Target:
    body = {"school_id": str(ctx.world.member_a.id), "month": f"{LAST_MONTH:%Y-%m}"}
    return Target(f"{API}/reports/host/tally", body, HostMonthReport)


def _tallied(ctx: Ctx) -> str:
    run = ctx.ok("POST", _tally(ctx).url, "host_admin_a", _tally(ctx).body)
    run = ctx.ok("GET", f"{API}/reports/runs/{run['id']}", "host_admin_a")
    assert run["status"] == "done", run
    return str(run["result"]["report_id"])


def _confirm(ctx: Ctx) -> Target:
    rid = _tallied(ctx)
    url = f"{API}/reports/host/{rid}"
    return Target(f"{url}/confirm", {}, HostMonthReport, uuid.UUID(rid), url)


def _acknowledge(ctx: Ctx) -> Target:
    confirm = _confirm(ctx)
    etag = ctx.etag(str(confirm.etag_url), "host_admin_a")
    ctx.ok("POST", confirm.url, "host_admin_a", None, **etag)
    page = ctx.ok("GET", f"{API}/reports/inbox", "school_admin_a")
    (item,) = page["items"]
    url = f"{API}/reports/home/{item['id']}/acknowledge"
    return Target(url, {}, HomeMonthReport, uuid.UUID(item["id"]))


def _webhook(ctx: Ctx) -> Target:
    body = {"url": "https://pay.example.edu.cn/hook"}
    return Target(f"{API}/reports/webhook", body, ReportWebhook)


def _dismiss(ctx: Ctx) -> Target:
    phone = phone_for(ctx.client, ctx.session, ctx.world, "teacher_a")
    phone.pull()
    bad = check_in("q000000000000001", kind="?")  # quarantined: no such kind
    pushed = phone.push_request({"check_ins": {"created": [bad], "updated": [], "deleted": []}})
    assert pushed.status_code == 200 and pushed.get_json()["quarantined"] == 1
    page = ctx.ok("GET", f"{API}/sync/quarantine", "bureau_a")
    entry = page["items"][0]["id"]
    url = f"{API}/sync/quarantine/{entry}/dismiss"
    return Target(url, {"note": "duplicate punch"}, QuarantinedRecord, uuid.UUID(entry))


# --- the table ------------------------------------------------------------------------------

LEAVE_DAY = date(2026, 9, 15)
PUNCH_DAY = date(2026, 10, 12)
ASSESS_DAY = date(2026, 11, 20)
LR, PC = "leave-requests", "punch-corrections"
LR_R = "/<string:request_id>"

CASES: list[Case] = [
    # org
    Case("POST /api/v1/regions", "bureau_city", _region_post),
    Case("PATCH /api/v1/regions/<uuid:region_id>", "bureau_city", _region_patch),
    Case("POST /api/v1/schools", "bureau_a", _school_post),
    Case("PATCH /api/v1/schools/<uuid:school_id>", "school_admin_a", _school_patch),
    Case("POST /api/v1/communities", "bureau_a", _community_post),
    Case("PATCH /api/v1/communities/<uuid:community_id>", "bureau_a", _community_patch),
    Case(
        "POST /api/v1/communities/<uuid:community_id>/membership-changes",
        "bureau_a",
        _membership_post,
    ),
    Case(
        "POST /api/v1/communities/membership-changes/<uuid:change_id>/approve",
        "bureau_a",
        _membership_decision("approve"),
    ),
    Case(
        "POST /api/v1/communities/membership-changes/<uuid:change_id>/reject",
        "bureau_a",
        _membership_decision("reject"),
    ),
    # exchange
    Case("POST /api/v1/teachers", "school_admin_a", _teacher_post),
    Case("PATCH /api/v1/teachers/<uuid:teacher_id>", "school_admin_a", _teacher_patch),
    Case("POST /api/v1/secondments", "bureau_a", _secondment_post),
    Case(
        "POST /api/v1/secondments/<uuid:secondment_id>/cancel",
        "bureau_a",
        _secondment_action("cancel", {"reason": "调整"}),
    ),
    Case(
        "POST /api/v1/secondments/<uuid:secondment_id>/extensions",
        "bureau_a",
        _secondment_action("extensions", {"new_end_on": "2028-01-15", "reason": "延长"}),
    ),
    # auth
    Case("POST /api/v1/users", "bureau_a", _user_post),
    Case("PATCH /api/v1/users/<uuid:user_id>", "bureau_a", _user_patch),
    Case(
        "POST /api/v1/devices/<uuid:device_pk>/revoke", "bureau_a", lambda c: _device(c, "revoke")
    ),
    Case(
        "POST /api/v1/devices/<uuid:device_pk>/restore", "bureau_a", lambda c: _device(c, "restore")
    ),
    # attendance
    Case("POST /api/v1/attendance/rules", "bureau_a", _rule_post, ASSESS_DAY),
    Case(
        "PUT /api/v1/attendance/assessments/<uuid:teacher_id>/<string:month>",
        "host_admin_a",
        _assessment_put,
        ASSESS_DAY,
    ),
    Case(
        "POST /api/v1/attendance/check-ins/<string:check_in_id>/flags/<string:code>/review",
        "host_admin_a",
        _flag_review,
    ),
    Case(f"POST {API}/{LR}", "teacher_a", _request_post(LR, LEAVE, LeaveRequest), LEAVE_DAY),
    Case(
        f"PATCH {API}/{LR}{LR_R}",
        "teacher_a",
        _request_action(LR, LEAVE, LeaveRequest, "patch", {"reason": "改"}),
        LEAVE_DAY,
    ),
    *(
        Case(
            f"POST {API}/{LR}{LR_R}/{step}",
            persona,
            _request_action(LR, LEAVE, LeaveRequest, step, body),
            LEAVE_DAY,
        )
        for step, persona, body in (
            ("approve", "host_admin_a", {"note": "同意"}),
            ("reject", "host_admin_a", {"note": "不同意"}),
            ("cancel", "teacher_a", {}),
        )
    ),
    Case(
        f"POST {API}/{PC}", "teacher_a", _request_post(PC, CORRECTION, PunchCorrection), PUNCH_DAY
    ),
    Case(
        f"PATCH {API}/{PC}{LR_R}",
        "teacher_a",
        _request_action(PC, CORRECTION, PunchCorrection, "patch", {"time": "08:20"}),
        PUNCH_DAY,
    ),
    *(
        Case(
            f"POST {API}/{PC}{LR_R}/{step}",
            persona,
            _request_action(PC, CORRECTION, PunchCorrection, step, body),
            PUNCH_DAY,
        )
        for step, persona, body in (
            ("approve", "host_admin_a", {"note": "同意"}),
            ("reject", "host_admin_a", {"note": "不同意"}),
            ("cancel", "teacher_a", {}),
        )
    ),
    Case("POST /api/v1/calendar/regions/<uuid:region_id>/periods", "bureau_city", _period_post),
    Case(
        "PUT /api/v1/calendar/regions/<uuid:region_id>/years/<int:year>", "bureau_city", _year_put
    ),
    Case(
        "POST /api/v1/calendar/schools/<uuid:school_id>/exceptions",
        "school_admin_a",
        _exception_post,
    ),
    # sync's admin review (the push itself is not applicable, below)
    Case("POST /api/v1/sync/quarantine/<uuid:entry_id>/dismiss", "bureau_a", _dismiss),
    # reports
    Case("POST /api/v1/reports/host/tally", "host_admin_a", _tally),
    Case("POST /api/v1/reports/host/<uuid:report_id>/confirm", "host_admin_a", _confirm),
    Case("POST /api/v1/reports/home/<uuid:report_id>/acknowledge", "school_admin_a", _acknowledge),
    Case("PUT /api/v1/reports/webhook", "school_admin_a", _webhook),
    # inspection
    Case("POST /api/v1/inspection/plans", "bureau_a", _plan_post, BEFORE),
    Case("PATCH /api/v1/inspection/plans/<uuid:plan_id>", "bureau_a", _plan_step("patch"), BEFORE),
    Case(
        "POST /api/v1/inspection/plans/<uuid:plan_id>/commit",
        "bureau_a",
        _plan_step("commit"),
        BEFORE,
    ),
    Case(
        "POST /api/v1/inspection/plans/<uuid:plan_id>/cancel",
        "bureau_a",
        _plan_step("cancel"),
        BEFORE,
    ),
    Case(
        "POST /api/v1/inspection/plans/<uuid:plan_id>/draw",
        "bureau_a",
        _plan_step("draw", "commit"),
        BEFORE,
    ),
    Case(
        "POST /api/v1/inspection/plans/<uuid:plan_id>/reveal",
        "bureau_a",
        _plan_step("reveal", "commit", "draw", "reveal-day"),
        BEFORE,
    ),
    Case("POST /api/v1/inspection/conflicts", "bureau_a", _conflict_post),
    # classes
    Case("POST /api/v1/classes/timetable", "school_admin_a", _timetable_post),
    Case("PATCH /api/v1/classes/timetable/<uuid:entry_id>", "school_admin_a", _timetable_patch),
    Case("POST /api/v1/classes/sessions", "teacher_a", _session_post),
    Case("PATCH /api/v1/classes/sessions/<string:session_id>", "teacher_a", _session_patch),
    # evidence, reviews, rubrics, manual scores
    Case("POST /api/v1/evidence", "school_admin_a", _evidence_post),
    Case("PATCH /api/v1/evidence/<string:item_id>", "school_admin_a", _evidence_patch),
    *(
        Case(
            f"POST /api/v1/reviews/{kind}/<string:record_id>/{verdict}",
            "bureau_a",
            _review(kind, verdict),
        )
        for kind in ("evidence", "class_session")
        for verdict in ("verify", "reject")
    ),
    Case("POST /api/v1/rubrics", "bureau_a", _rubric_post),
    Case(
        "PUT /api/v1/scorecards/<uuid:community_id>/<int:school_year>/manual/<string:criterion>",
        "bureau_a",
        _manual_score,
        date(2026, 12, 2),
    ),
]


# --- walking the app ------------------------------------------------------------------------


def _write_routes(app: Flask) -> Iterator[tuple[str, Callable[..., Any]]]:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(f"{API}/"):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            handler = getattr(view_class, method.lower()) if view_class else view
            yield f"{method} {rule.rule}", handler


def _argument_schemas(handler: Callable[..., Any]) -> list[Schema]:
    params = getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    found = []
    for param in params:
        schema = param["schema"]
        found.append(schema() if isinstance(schema, type) else schema)
    return found


def _loaded_names(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every (dotted name, owning schema) the schema loads, nested schemas included."""
    for name, declared in schema.load_fields.items():
        key = declared.data_key or name
        yield f"{path}{key}", schema
        inner = declared.inner if isinstance(declared, fields.List) else declared
        if isinstance(inner, fields.Nested) and isinstance(inner.schema, Schema):
            yield from _loaded_names(inner.schema, f"{path}{key}.")


def test_every_write_route_is_covered_or_not_applicable(app: Flask) -> None:
    routes = {route for route, _ in _write_routes(app)}
    covered = [case.route for case in CASES]
    assert len(routes) > 40  # the walk itself works
    assert len(covered) == len(set(covered)), "a route is in CASES twice"
    assert not set(covered) & set(NOT_APPLICABLE), "a route is both covered and not applicable"
    assert set(covered) - routes == set(), "CASES names routes the app does not have"
    assert set(NOT_APPLICABLE) - routes == set(), "NOT_APPLICABLE names unknown routes"
    forgotten = sorted(routes - set(covered) - set(NOT_APPLICABLE))
    assert forgotten == [], f"write routes without a mass-assignment case: {forgotten}"


def test_no_write_schema_loads_a_server_owned_field(app: Flask) -> None:
    problems = []
    for route, handler in _write_routes(app):
        allowed = CLIENT_CHOSEN.get(route, {})
        for schema in _argument_schemas(handler):
            for name, owner in _loaded_names(schema):
                if owner.unknown != RAISE:
                    problems.append(f"{route}: {type(owner).__name__} does not raise on unknown")
                if "." not in name and name in HOSTILE and name not in allowed:
                    problems.append(f"{route}: loads server-owned {name!r}")
    assert set(CLIENT_CHOSEN) <= {route for route, _ in _write_routes(app)}
    assert problems == [], problems


# --- the requests ---------------------------------------------------------------------------


def _snapshot(session: Session, target: Target) -> list[dict[str, Any]]:
    """The stored rows as the database has them now (a Core select: no identity map)."""
    table = target.model.__table__
    stmt = sa.select(table)
    if target.key is not None:
        (pk,) = target.model.__mapper__.primary_key
        stmt = stmt.where(pk == target.key)
    rows = [dict(row._mapping) for row in session.execute(stmt)]
    return sorted(rows, key=repr)


def _loaded_by(app: Flask, route: str) -> set[str]:
    handler = dict(_write_routes(app))[route]
    return {name for schema in _argument_schemas(handler) for name, _ in _loaded_names(schema)}


@pytest.mark.parametrize("case", CASES, ids=[case.route for case in CASES])
def test_server_owned_fields_are_refused_and_nothing_is_stored(
    case: Case,
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def set_today(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    if case.today is not None:
        set_today(case.today)
    ctx = Ctx(client, session, world, app, set_today)
    target = case.build(ctx)
    # Owner fields name real objects of county B: the most tempting values to smuggle in.
    foreign = {
        **HOSTILE,
        "teacher_id": str(world.teacher_b.id),
        "school_id": str(world.core_b.id),
        "community_id": str(world.community_b.id),
    }
    hostile = {k: v for k, v in foreign.items() if k not in _loaded_by(app, case.route)}
    method = case.route.split(" ", 1)[0]

    def send(body: dict[str, Any]) -> Any:
        headers = dict(world.headers[case.persona])
        if target.etag_url is not None:
            headers.update(ctx.etag(target.etag_url, case.persona))
        return client.open(target.url, method=method, json=body, headers=headers)

    before = _snapshot(session, target)
    assert before or target.key is None, f"{case.route}: the target row was not built"
    response = send({**target.body, **hostile})
    body = response.get_json()
    if _argument_schemas(dict(_write_routes(app))[case.route]):
        # A body schema: the whole request is refused, naming exactly the hostile fields.
        assert response.status_code == 422, body
        assert set(body["errors"]["json"]) == set(hostile), body
        assert _snapshot(session, target) == before
        # The legitimate body alone reaches the route and succeeds.
        response = send(target.body)
    # No body schema (an action without a body): the body is ignored and the action runs.
    assert response.status_code < 300, response.get_json()
    # The target row; for a create, the rows it added (others may hold county B's ids).
    after = _snapshot(session, target)
    written = after if target.key is not None else [row for row in after if row not in before]
    assert written, f"{case.route}: nothing was written"
    applied = [
        (name, row[name])
        for row in written
        for name, value in hostile.items()
        if name in row and _same(row[name], value)
    ]
    assert applied == [], f"{case.route}: hostile values stored: {applied}"


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(stored, datetime):
        return stored == datetime.fromisoformat(sent) if isinstance(sent, str) else False
    return str(stored) == str(sent) or stored == sent
