"""How to call each route of the matrix on an owner's object: path values, a valid body,
the "today" it needs, and whether it needs an ``If-Match`` ETag.

The matrix (``matrix.py``) says what each persona must get; this module says only how to
ask, so that the one reason a request can fail is who sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from backend import clock
from tests.security.authz import world as W
from tests.security.authz.world import API, AuthzWorld

Value = Callable[[AuthzWorld, str], object]  # (world, owner) -> a path value
Body = Callable[[AuthzWorld, str, str], Any]  # (world, owner, persona) -> JSON body


def obj(kind: str) -> Value:
    """The path value is the id of the owner's object of ``kind``."""
    return lambda w, owner: w.id(f"{kind}@{owner}")


def const(value: object) -> Value:
    return lambda w, owner: value


def _county(w: AuthzWorld, owner: str) -> object:
    return w.id(f"region@{owner}")


def _core(w: AuthzWorld, owner: str) -> object:
    return w.id(f"school@core_{owner}")


@dataclass(frozen=True)
class Spec:
    kind: str  # what the owners of the matrix's rows own ("kind@owner" in the world)
    params: dict[str, Value] = field(default_factory=dict)
    body: Body | None = None
    today: date | None = None
    etag: bool = False  # send If-Match (from a GET of ``etag_path`` or the url itself)
    etag_path: str = ""  # appended to nothing: a sibling url, built with the same values
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    # Run inside the cell's savepoint before the request (puts the object in the state
    # the action needs, e.g. a device revoked before it can be restored).
    prepare: Callable[[AuthzWorld, str], None] | None = None


def fixed(body: Any) -> Body:
    return lambda w, owner, persona: body


def _review_body(kind: str, verdict: str) -> Body:
    def make(w: AuthzWorld, owner: str, persona: str) -> Any:
        read = f"{API}/evidence" if kind == "evidence" else f"{API}/classes/sessions"
        revision = w.cached_get(f"{read}/{w.id(f'{kind}@{owner}')}")["revision"]
        return {"revision": revision, "reason": "" if verdict == "verify" else "照片不清"}

    return make


def _revoked(w: AuthzWorld, owner: str) -> None:
    device = w.id(f"device@{owner}")
    w.ok("bureau_city", "POST", f"{API}/devices/{device}/revoke", {})


def _membership_body(w: AuthzWorld, owner: str, persona: str) -> Any:
    """A school admin asks for its own school; others for a school outside the community."""
    school = w.users[persona].school_id
    if school is not None:
        member = str(school) in {_core(w, owner), w.id(f"member_school@{owner}")}
        return {
            "school_id": str(school),
            "action": "leave" if member else "join",
            "effective_on": "2027-02-01",
            "reason": "county plan",
        }
    return {
        "school_id": w.id(f"member_school@{owner}"),
        "action": "leave",
        "effective_on": "2027-03-01",
        "reason": "county plan",
    }


TUS = {"Tus-Resumable": "1.0.0"}
# A day of last month: the world's tally stored every teacher's days of that month.
_TALLIED_DAY = ((clock.today().replace(day=1) - timedelta(days=1)).replace(day=2)).isoformat()

LR = "/api/v1/leave-requests/<string:request_id>"
PC = "/api/v1/punch-corrections/<string:request_id>"
PLAN = "/api/v1/inspection/plans/<uuid:plan_id>"
CARD = "/api/v1/scorecards/<uuid:community_id>/<int:school_year>"
CAL_R = "/api/v1/calendar/regions/<uuid:region_id>"
CAL_S = "/api/v1/calendar/schools/<uuid:school_id>"

# "METHOD rule" -> how to call it. Every route here is a row group of the matrix.
SPECS: dict[str, Spec] = {
    # --- org ---------------------------------------------------------------------------
    "GET /api/v1/regions/<uuid:region_id>": Spec("region", {"region_id": obj("region")}),
    "PATCH /api/v1/regions/<uuid:region_id>": Spec(
        "region", {"region_id": obj("region")}, fixed({"name": "改名县"}), etag=True
    ),
    "DELETE /api/v1/regions/<uuid:region_id>": Spec("region", {"region_id": obj("region")}),
    "GET /api/v1/schools/<uuid:school_id>": Spec("school", {"school_id": obj("school")}),
    "PATCH /api/v1/schools/<uuid:school_id>": Spec(
        "school", {"school_id": obj("school")}, fixed({"name": "改名学校"}), etag=True
    ),
    "DELETE /api/v1/schools/<uuid:school_id>": Spec("school", {"school_id": obj("school")}),
    "GET /api/v1/communities/<uuid:community_id>": Spec(
        "community", {"community_id": obj("community")}
    ),
    "PATCH /api/v1/communities/<uuid:community_id>": Spec(
        "community",
        {"community_id": obj("community")},
        fixed({"name": "改名共同体"}),
        etag=True,
    ),
    "GET /api/v1/communities/<uuid:community_id>/membership-changes": Spec(
        "community", {"community_id": obj("community")}
    ),
    "POST /api/v1/communities/<uuid:community_id>/membership-changes": Spec(
        "community", {"community_id": obj("community")}, _membership_body
    ),
    "POST /api/v1/communities/membership-changes/<uuid:change_id>/approve": Spec(
        "membership_change", {"change_id": obj("membership_change")}, fixed({"note": "同意"})
    ),
    "POST /api/v1/communities/membership-changes/<uuid:change_id>/reject": Spec(
        "membership_change", {"change_id": obj("membership_change")}, fixed({"note": "不同意"})
    ),
    # --- exchange ------------------------------------------------------------------------
    "GET /api/v1/teachers/<uuid:teacher_id>": Spec("teacher", {"teacher_id": obj("teacher")}),
    "PATCH /api/v1/teachers/<uuid:teacher_id>": Spec(
        "teacher", {"teacher_id": obj("teacher")}, fixed({"name": "王老师"}), etag=True
    ),
    "DELETE /api/v1/teachers/<uuid:teacher_id>": Spec("teacher", {"teacher_id": obj("teacher")}),
    "GET /api/v1/secondments/<uuid:secondment_id>": Spec(
        "secondment", {"secondment_id": obj("secondment")}
    ),
    "POST /api/v1/secondments/<uuid:secondment_id>/cancel": Spec(
        "secondment",
        {"secondment_id": obj("secondment")},
        fixed({"reason": "调整"}),
        etag=True,
        etag_path="/api/v1/secondments/<uuid:secondment_id>",
    ),
    "POST /api/v1/secondments/<uuid:secondment_id>/extensions": Spec(
        "secondment",
        {"secondment_id": obj("secondment")},
        fixed({"new_end_on": "2028-01-15", "reason": "延长"}),
        etag=True,
        etag_path="/api/v1/secondments/<uuid:secondment_id>",
    ),
    # --- auth ----------------------------------------------------------------------------
    "GET /api/v1/users/<uuid:user_id>": Spec("user", {"user_id": obj("user")}),
    "PATCH /api/v1/users/<uuid:user_id>": Spec(
        "user", {"user_id": obj("user")}, fixed({"active": False}), etag=True
    ),
    "POST /api/v1/devices/<uuid:device_pk>/revoke": Spec(
        "device", {"device_pk": obj("device")}, fixed({})
    ),
    "POST /api/v1/devices/<uuid:device_pk>/restore": Spec(
        "device", {"device_pk": obj("device")}, fixed({}), prepare=_revoked
    ),
    # --- attendance ------------------------------------------------------------------------
    "GET /api/v1/attendance/assessments/<uuid:teacher_id>/<string:month>": Spec(
        "teacher", {"teacher_id": obj("teacher"), "month": const(W.ASSESS_MONTH)}
    ),
    "PUT /api/v1/attendance/assessments/<uuid:teacher_id>/<string:month>": Spec(
        "teacher",
        {"teacher_id": obj("teacher"), "month": const(W.ASSESS_MONTH)},
        fixed({"grade": "excellent", "dimensions": {"diligence": "good"}, "comment": "改"}),
        today=W.ASSESS_DAY,
        etag=True,
    ),
    "POST /api/v1/attendance/check-ins/<string:check_in_id>/flags/<string:code>/review": Spec(
        "check_in",
        {"check_in_id": obj("check_in"), "code": const("outside_fence")},
        fixed({"decision": "dismissed", "note": "GPS drift"}),
    ),
    "GET /api/v1/attendance/rules/<uuid:rule_id>": Spec("rule", {"rule_id": obj("rule")}),
    "DELETE /api/v1/attendance/rules/<uuid:rule_id>": Spec(
        "rule", {"rule_id": obj("rule")}, today=W.ASSESS_DAY
    ),
    "GET /api/v1/attendance/schools/<uuid:school_id>/board": Spec(
        "school", {"school_id": obj("school")}, query="?date=2026-10-12"
    ),
    "GET /api/v1/attendance/teachers/<uuid:teacher_id>/days/<string:day>/changes": Spec(
        "teacher", {"teacher_id": obj("teacher"), "day": const(_TALLIED_DAY)}
    ),
    "GET /api/v1/attendance/teachers/<uuid:teacher_id>/months/<month>": Spec(
        "teacher", {"teacher_id": obj("teacher"), "month": const("2026-10")}
    ),
    # --- the calendar ----------------------------------------------------------------------
    f"GET {CAL_R}/periods": Spec("region", {"region_id": obj("region")}),
    f"POST {CAL_R}/periods": Spec(
        "region",
        {"region_id": obj("region")},
        fixed(
            {
                "school_year": 2026,
                "kind": "vacation",
                "name": "暑假",
                "start_on": "2027-07-10",
                "end_on": "2027-08-31",
            }
        ),
    ),
    f"DELETE {CAL_R}/periods/<uuid:period_id>": Spec(
        "period", {"region_id": _county, "period_id": obj("period")}
    ),
    f"GET {CAL_R}/years": Spec("region", {"region_id": obj("region")}),
    f"GET {CAL_R}/years/<int:year>": Spec(
        "region", {"region_id": obj("region"), "year": const(2027)}
    ),
    f"PUT {CAL_R}/years/<int:year>": Spec(
        "region",
        {"region_id": obj("region"), "year": const(2028)},
        fixed(
            {
                "notice": "通知",
                "entries": [{"date": "2028-01-26", "kind": "holiday", "name": "春节"}],
            }
        ),
    ),
    f"DELETE {CAL_R}/years/<int:year>": Spec(
        "region", {"region_id": obj("region"), "year": const(2027)}
    ),
    f"GET {CAL_S}/days": Spec(
        "school", {"school_id": obj("school")}, query="?start=2026-10-01&end=2026-10-07"
    ),
    f"GET {CAL_S}/exceptions": Spec("school", {"school_id": obj("school")}),
    f"POST {CAL_S}/exceptions": Spec(
        "school",
        {"school_id": obj("school")},
        fixed(
            {"kind": "closed", "start_on": "2025-12-22", "end_on": "2025-12-23", "reason": "暴雪"}
        ),
    ),
    f"DELETE {CAL_S}/exceptions/<uuid:exception_id>": Spec(
        "exception", {"school_id": _core, "exception_id": obj("exception")}
    ),
    # --- leave requests and punch corrections -----------------------------------------------
    f"GET {LR}": Spec("leave", {"request_id": obj("leave")}),
    f"PATCH {LR}": Spec(
        "leave",
        {"request_id": obj("leave")},
        fixed({"reason": "改"}),
        today=W.LEAVE_DAY,
        etag=True,
    ),
    f"POST {LR}/approve": Spec(
        "leave", {"request_id": obj("leave")}, fixed({"note": "同意"}), today=W.LEAVE_DAY
    ),
    f"POST {LR}/reject": Spec(
        "leave", {"request_id": obj("leave")}, fixed({"note": "不同意"}), today=W.LEAVE_DAY
    ),
    f"POST {LR}/cancel": Spec("leave", {"request_id": obj("leave")}, today=W.LEAVE_DAY),
    f"GET {PC}": Spec("correction", {"request_id": obj("correction")}),
    f"PATCH {PC}": Spec(
        "correction",
        {"request_id": obj("correction")},
        fixed({"time": "08:20"}),
        today=W.PUNCH_DAY,
        etag=True,
    ),
    f"POST {PC}/approve": Spec(
        "correction", {"request_id": obj("correction")}, fixed({"note": "同意"}), today=W.PUNCH_DAY
    ),
    f"POST {PC}/reject": Spec(
        "correction",
        {"request_id": obj("correction")},
        fixed({"note": "不同意"}),
        today=W.PUNCH_DAY,
    ),
    f"POST {PC}/cancel": Spec("correction", {"request_id": obj("correction")}, today=W.PUNCH_DAY),
    # --- inspection -------------------------------------------------------------------------
    f"GET {PLAN}": Spec("plan_drawn", {"plan_id": obj("plan_drawn")}),
    f"PATCH {PLAN}": Spec(
        "plan_draft",
        {"plan_id": obj("plan_draft")},
        fixed({"window_days": 4}),
        today=W.BEFORE,
        etag=True,
    ),
    f"POST {PLAN}/commit": Spec("plan_draft", {"plan_id": obj("plan_draft")}, today=W.BEFORE),
    f"POST {PLAN}/cancel": Spec("plan_draft", {"plan_id": obj("plan_draft")}, today=W.BEFORE),
    f"POST {PLAN}/draw": Spec(
        "plan_committed",
        {"plan_id": obj("plan_committed")},
        fixed({"beacon": "福彩3D 2026-10-09: 5 8 2"}),
        today=W.BEFORE,
    ),
    f"POST {PLAN}/reveal": Spec("plan_drawn", {"plan_id": obj("plan_drawn")}, today=W.AFTER),
    f"GET {PLAN}/draw-record": Spec("plan_drawn", {"plan_id": obj("plan_drawn")}),
    f"GET {PLAN}/spot-checks": Spec("plan_drawn", {"plan_id": obj("plan_drawn")}),
    "DELETE /api/v1/inspection/conflicts/<uuid:conflict_id>": Spec(
        "conflict", {"conflict_id": obj("conflict")}
    ),
    "GET /api/v1/inspection/spot-checks/<uuid:spot_check_id>": Spec(
        "spot_check", {"spot_check_id": obj("spot_check")}
    ),
    "GET /api/v1/inspection/visits/<string:visit_id>": Spec("visit", {"visit_id": obj("visit")}),
    # --- classes and evidence ---------------------------------------------------------------
    "GET /api/v1/classes/timetable/<uuid:entry_id>": Spec(
        "timetable", {"entry_id": obj("timetable")}
    ),
    "PATCH /api/v1/classes/timetable/<uuid:entry_id>": Spec(
        "timetable", {"entry_id": obj("timetable")}, fixed({"note": "改"}), etag=True
    ),
    "DELETE /api/v1/classes/timetable/<uuid:entry_id>": Spec(
        "timetable", {"entry_id": obj("timetable")}
    ),
    "GET /api/v1/classes/sessions/<string:session_id>": Spec(
        "class_session", {"session_id": obj("class_session")}
    ),
    "PATCH /api/v1/classes/sessions/<string:session_id>": Spec(
        "class_session", {"session_id": obj("class_session")}, fixed({"topic": "改"}), etag=True
    ),
    "DELETE /api/v1/classes/sessions/<string:session_id>": Spec(
        "class_session", {"session_id": obj("class_session")}
    ),
    "GET /api/v1/evidence/<string:item_id>": Spec("evidence", {"item_id": obj("evidence")}),
    "PATCH /api/v1/evidence/<string:item_id>": Spec(
        "evidence", {"item_id": obj("evidence")}, fixed({"title": "改"}), etag=True
    ),
    "DELETE /api/v1/evidence/<string:item_id>": Spec(
        "evidence",
        {"item_id": obj("evidence")},
        etag=True,
        etag_path="/api/v1/evidence/<string:item_id>",
    ),
    "GET /api/v1/evidence/<string:item_id>/history": Spec("evidence", {"item_id": obj("evidence")}),
    **{
        f"POST /api/v1/reviews/{kind}/<string:record_id>/{verdict}": Spec(
            kind, {"record_id": obj(kind)}, _review_body(kind, verdict)
        )
        for kind in ("evidence", "class_session")
        for verdict in ("verify", "reject")
    },
    **{
        f"GET /api/v1/reviews/{kind}/<string:record_id>/history": Spec(
            kind, {"record_id": obj(kind)}
        )
        for kind in ("evidence", "class_session")
    },
    "GET /api/v1/rubrics/<uuid:rubric_id>": Spec("rubric", {"rubric_id": obj("rubric")}),
    f"GET {CARD}": Spec(
        "community", {"community_id": obj("community"), "school_year": const(W.SCHOOL_YEAR)}
    ),
    f"GET {CARD}/progress": Spec(
        "community", {"community_id": obj("community"), "school_year": const(W.SCHOOL_YEAR)}
    ),
    f"GET {CARD}/export.xlsx": Spec(
        "community", {"community_id": obj("community"), "school_year": const(W.SCHOOL_YEAR)}
    ),
    f"PUT {CARD}/manual/<string:criterion>": Spec(
        "community",
        {
            "community_id": obj("community"),
            "school_year": const(2026),
            "criterion": const("outcomes"),
        },
        fixed({"points": 7, "note": "进步明显"}),
        today=W.SCORE_DAY,
    ),
    # --- reports ---------------------------------------------------------------------------
    "GET /api/v1/reports/host/<uuid:report_id>": Spec(
        "host_report", {"report_id": obj("host_report")}
    ),
    "GET /api/v1/reports/host/<uuid:report_id>/export.<any(csv, xlsx):fmt>": Spec(
        "host_report", {"report_id": obj("host_report"), "fmt": const("csv")}
    ),
    "POST /api/v1/reports/host/<uuid:report_id>/confirm": Spec(
        "host_report",
        {"report_id": obj("host_report")},
        etag=True,
        etag_path="/api/v1/reports/host/<uuid:report_id>",
    ),
    "GET /api/v1/reports/home/<uuid:report_id>": Spec(
        "home_report", {"report_id": obj("home_report")}
    ),
    "GET /api/v1/reports/home/<uuid:report_id>/export.<any(csv, xlsx):fmt>": Spec(
        "home_report", {"report_id": obj("home_report"), "fmt": const("csv")}
    ),
    "POST /api/v1/reports/home/<uuid:report_id>/acknowledge": Spec(
        "home_report", {"report_id": obj("home_report")}
    ),
    "GET /api/v1/reports/runs/<uuid:run_id>": Spec("run", {"run_id": obj("run")}),
    # --- media and sync review ---------------------------------------------------------------
    "GET /api/v1/photos/<uuid:photo_pk>": Spec("photo", {"photo_pk": obj("photo")}),
    "GET /api/v1/photos/<uuid:photo_pk>/url": Spec("photo", {"photo_pk": obj("photo")}),
    "POST /api/v1/sync/quarantine/<uuid:entry_id>/dismiss": Spec(
        "quarantine", {"entry_id": obj("quarantine")}, fixed({"note": "duplicate punch"})
    ),
    "DELETE /api/v1/uploads/<uuid:upload_id>": Spec(
        "upload", {"upload_id": obj("upload")}, headers=TUS
    ),
    "PATCH /api/v1/uploads/<uuid:upload_id>": Spec(
        "upload",
        {"upload_id": obj("upload")},
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    ),
    "POST /api/v1/uploads/<uuid:upload_id>": Spec(
        "upload",
        {"upload_id": obj("upload")},
        headers={
            **TUS,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    ),
}


def rules_by_key(app: Flask) -> dict[str, Rule]:
    """ "METHOD rule" -> the URL map's rule, for every method of every rule."""
    found: dict[str, Rule] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            found[f"{method} {rule.rule}"] = rule
    return found


def url_of(w: AuthzWorld, rule: Rule, spec: Spec, owner: str, path: str = "") -> str:
    values = {name: make(w, owner) for name, make in spec.params.items()}
    target = rule
    if path:
        target = next(r for r in w.app.url_map.iter_rules() if r.rule == path)
    built = target.build(values, append_unknown=False)
    assert built is not None, (rule.rule, values)
    return built[1]


def owners_of(w: AuthzWorld, kind: str) -> list[str]:
    return [key.split("@", 1)[1] for key in w.objects if key.split("@", 1)[0] == kind]
