"""The matrix's world: the personas of issue 9 and, for each owner, one object of each kind.

Built once per test package on a connection of its own (one outer transaction, rolled
back at the end; every request commits to a savepoint inside it), through the factories,
the services and the API as the legitimate persona would, so each object is a real one.

Personas (``PERSONAS``, the matrix's columns):

* ``teacher_a``   teacher A: home core A, seconded to member A
* ``teacher_a2``  teacher B: home core A too, also seconded to member A
* ``teacher_b``   teacher C: elsewhere (county B: home core B, seconded to member B)
* ``school_admin_a``  admin of core A (the home school of both A teachers)
* ``host_admin_a``    admin of member A (their host school)
* ``school_admin_b``  admin of core B
* ``inspector_a``     county A inspector assigned to county A's drawn spot check
* ``inspector_a2``    county A inspector, same region, not assigned
* ``bureau_a`` / ``bureau_b``  bureau admins of the two counties
* ``bureau_city``     the city's bureau admin (both counties are below it)

Objects are keyed ``kind@owner`` (``OBJECTS``): owner ``a`` is teacher A / community A /
county A, ``a2`` is teacher B (teacher_a2), ``b`` is county B's counterpart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend import clock
from backend.attendance.models import CheckIn
from backend.auth.models import Device, User
from backend.classes.timetable import school_year_of
from backend.clock import CHINA
from backend.db import utcnow
from backend.inspection.models import (
    SpotCheck,
    SpotCheckInspector,
    SpotCheckTeacher,
)
from backend.scoring.rubric import default_definition
from media.models import Photo
from tests import factories
from tests.factories import World
from tests.sync.phone import Phone, check_in

API = "/api/v1"

PERSONAS: tuple[str, ...] = (
    "teacher_a",
    "teacher_a2",
    "teacher_b",
    "school_admin_a",
    "host_admin_a",
    "school_admin_b",
    "inspector_a",
    "inspector_a2",
    "bureau_a",
    "bureau_b",
    "bureau_city",
)

# Not a column, but the author of county B's visit (assigned to its spot check).
OTHERS = ("inspector_b", "host_admin_b", "inspector_a3", "inspector_b2")

# "Today" while filing what rules date (the mass-assignment test's days).
LEAVE_DAY = date(2026, 9, 15)
PUNCH_DAY = date(2026, 10, 12)
ASSESS_DAY = date(2026, 11, 20)
SCORE_DAY = date(2026, 12, 2)
PERIOD_START = date(2026, 10, 12)
PERIOD_END = date(2026, 10, 30)
BEFORE = date(2026, 10, 1)  # committing and drawing plans
AFTER = date(2026, 11, 2)  # revealing them
ASSESS_MONTH = "2026-10"
SCHOOL_YEAR = school_year_of(clock.today())
BEACON = "体彩 2026-10-09 排列5: 3 1 4 1 5"
NOW_MS = int(time.time() * 1000)


# Who reads an object to learn its ETag or revision (the first that may).
READERS: tuple[str, ...] = ("bureau_city", "host_admin_a", "school_admin_a", "school_admin_b")
READERS += ("teacher_a", "teacher_a2", "teacher_b", "host_admin_b")


@contextmanager
def today_is(day: date | None) -> Iterator[None]:
    if day is None:
        yield
        return
    with mock.patch.object(clock, "today", lambda: day):
        yield


@dataclass
class AuthzWorld:
    base: World
    client: FlaskClient
    session: Session
    connection: Connection
    app: Flask
    users: dict[str, User] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    # "kind@owner" -> the object's id (str), as the API names it
    objects: dict[str, str] = field(default_factory=dict)
    # ids by the personas that may see them in lists: (kind, id) -> owner
    reads: dict[str, tuple[Any, str | None]] = field(default_factory=dict)

    def call(
        self,
        persona: str,
        method: str,
        url: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> TestResponse:
        return self.client.open(
            url,
            method=method,
            json=body,
            headers={**self.headers[persona], **(headers or {})},
            **kw,
        )

    def ok(self, persona: str, method: str, url: str, body: Any = None, **kw: Any) -> Any:
        response = self.call(persona, method, url, body, **kw)
        assert response.status_code < 300, (persona, method, url, response.get_json())
        return response.get_json()

    def etag(self, persona: str, url: str) -> dict[str, str]:
        response = self.call(persona, "GET", url)
        assert response.status_code == 200, (url, response.get_json())
        tag = response.headers.get("ETag")
        return {"If-Match": tag} if tag else {}

    def phone(self, persona: str, version: int = 4) -> Phone:
        return Phone(
            client=self.client,
            headers=self.headers[persona],
            device_id=self.devices[persona].device_id,
            schema_version=version,
        )

    def id(self, key: str) -> str:
        return self.objects[key]

    def cached_get(self, url: str) -> Any:
        """The object at ``url`` as the first persona that may read it sees it (cached)."""
        if url not in self.reads:
            for persona in READERS:
                response = self.call(persona, "GET", url)
                if response.status_code == 200:
                    self.reads[url] = (response.get_json(), response.headers.get("ETag"))
                    break
            else:
                raise AssertionError(f"nobody may read {url}")
        return self.reads[url][0]

    def etag_for(self, url: str) -> dict[str, str]:
        self.cached_get(url)
        tag = self.reads[url][1]
        return {"If-Match": tag} if tag else {}


def _photos(session: Session, owner_id: uuid.UUID, *photo_ids: str) -> list[Photo]:
    """Photos that arrived and passed processing (what makes a class form complete)."""
    made = []
    for photo_id in photo_ids:
        photo = Photo(
            owner_id=owner_id,
            photo_id=photo_id,
            sha256=hashlib.sha256(f"{owner_id}/{photo_id}".encode()).hexdigest(),
            size=1024,
            declared_content_type="image/jpeg",
            backend="local",
            blob_key=f"test/{owner_id}/{photo_id}",
            status="valid",
            detected_format="JPEG",
            processed_at=utcnow(),
            thumb_key=f"test/{owner_id}/{photo_id}/thumb",
            view_key=f"test/{owner_id}/{photo_id}/view",
        )
        session.add(photo)
        made.append(photo)
    session.flush()
    return made


def _flagged_check_in(w: AuthzWorld, record_id: str, teacher: Any, secondment: Any) -> None:
    at = datetime(2026, 10, 12, 7, 55, tzinfo=CHINA)
    w.session.add(
        CheckIn(
            id=record_id,
            teacher_id=teacher.id,
            kind="in",
            captured_at=int(at.timestamp() * 1000),
            latitude=35.99,
            longitude=105.73,
            accuracy_m=10.0,
            received_at=at + timedelta(minutes=5),
            secondment_id=secondment.id,
            host_school_id=secondment.host_school_id,
            location="outside",
            distance_m=2100.0,
            estimated_at=at,
            estimate_method="skew_only",
            status="flagged",
            flags=[{"code": "outside_fence", "reason": "2.1 km beyond the fence"}],
            client_digest="0" * 64,
        )
    )


def _timetable_body(community: Any, lead: Any, teacher: Any, receiver: Any) -> dict[str, Any]:
    return {
        "community_id": str(community.id),
        "school_year": SCHOOL_YEAR,
        "term": 1,
        "subject": "数学",
        "lead_school_id": str(lead.id),
        "lead_teacher_id": str(teacher.id),
        "lead_class_name": "四(1)班",
        "receivers": [{"school_id": str(receiver.id), "class_name": "四(2)班"}],
        "weekday": 3,
        "period": "第3节",
    }


def session_form(
    community: Any, lead: Any, teacher: Any, receiver: Any, lead_photo: str, recv_photo: str
) -> dict[str, Any]:
    """A class report form as an API body (lists as JSON)."""
    return {
        "community_id": str(community.id),
        "timetable_entry_id": None,
        "day": (clock.today() - timedelta(days=1)).isoformat(),
        "subject": "数学",
        "topic": "分数的初步认识",
        "lead_school_id": str(lead.id),
        "lead_teacher_id": str(teacher.id),
        "lead_class_name": "四(1)班",
        "lead_student_count": 45,
        "duration_minutes": 40,
        "connection_quality": "good",
        "problems": "",
        "discussion": "课后两校教师研讨了分数的直观教学。",
        "participants": [
            {
                "school_id": str(receiver.id),
                "class_name": "四(2)班",
                "student_count": 32,
                "photo_ids": [recv_photo],
            }
        ],
        "lead_photo_ids": [lead_photo],
    }


def evidence_body(community: Any) -> dict[str, Any]:
    return {
        "kind": "teaching_materials",
        "subject": "数学",
        "title": "课件",
        "day": (clock.today() - timedelta(days=1)).isoformat(),
        "community_id": str(community.id),
    }


def leave_body(teacher: Any | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "leave_type": "personal",
        "start_on": "2026-09-28",
        "end_on": "2026-10-10",
        "reason": "回老家照顾老人",
    }
    if teacher is not None:
        body["teacher_id"] = str(teacher.id)
    return {**body, **extra}


def correction_body(teacher: Any | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "day": "2026-10-09",
        "kind": "in",
        "time": "07:55",
        "reason": "手机没电",
    }
    if teacher is not None:
        body["teacher_id"] = str(teacher.id)
    return {**body, **extra}


PLAN_BODY = {
    "name": "2026年秋季交流教师随机抽查",
    "period_start": PERIOD_START.isoformat(),
    "period_end": PERIOD_END.isoformat(),
    "target_count": 1,
    "window_days": 3,
    "inspectors_per_visit": 2,
}


def _plan(w: AuthzWorld, bureau: str, *steps: str) -> str:
    """A plan of ``bureau``'s county, taken through ``steps`` (commit, draw)."""
    with today_is(BEFORE):
        pid = str(w.ok(bureau, "POST", f"{API}/inspection/plans", PLAN_BODY)["id"])
        for step in steps:
            body = {"beacon": BEACON} if step == "draw" else None
            w.ok(bureau, "POST", f"{API}/inspection/plans/{pid}/{step}", body)
    return pid


def _visit_record(record_id: str, check_id: uuid.UUID, teacher_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": record_id,
        "spot_check_id": str(check_id),
        "arrived_at": NOW_MS - 5 * 60_000,
        "elapsed_ms": None,
        "boot_id": None,
        "latitude": 35.96,
        "longitude": 105.73,
        "accuracy_m": 10.0,
        "coord_system": "wgs84",
        "mock_location": False,
        "photo_ids": "[]",
        "signature_photo_id": None,
        "findings": json.dumps(
            [{"teacher_id": str(teacher_id), "finding": "present_teaching", "note": ""}]
        ),
        "note": "",
    }


def push(phone: Phone, table: str, **ops: list[Any]) -> dict[str, Any]:
    phone.pull()
    response = phone.push_request({table: {"created": [], "updated": [], "deleted": [], **ops}})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _quarantined(session: Session) -> list[tuple[str, str]]:
    from sync.models import QuarantinedRecord

    return [(q.reason, q.detail) for q in session.scalars(sa.select(QuarantinedRecord))]


def build(app: Flask, session: Session, connection: Connection, client: FlaskClient) -> AuthzWorld:
    base = factories.world(session, app)
    s = session
    # The second teacher at teacher A's host school, also seconded; a second inspector of
    # county A; helpers that file county B's counterparts (not personas).
    sec_a2 = factories.secondment(s, base.teacher_a2, base.member_a)
    other_b = factories.school(s, base.county_b)
    users = dict(base.users)
    users["inspector_a2"] = factories.user(s, app, "inspector", region_id=base.county_a.id)
    users["inspector_a3"] = factories.user(s, app, "inspector", region_id=base.county_a.id)
    users["inspector_b2"] = factories.user(s, app, "inspector", region_id=base.county_b.id)
    users["host_admin_b"] = factories.user(s, app, "school_admin", school_id=base.member_b.id)
    s.commit()
    w = AuthzWorld(base=base, client=client, session=s, connection=connection, app=app)
    for name, user in users.items():
        device = Device(user_id=user.id, device_id=f"authz-{name}", device_name="matrix")
        s.add(device)
        s.flush()
        from backend.auth.tokens import issue_access_token
        from backend.extensions import settings_of

        token = issue_access_token(settings_of(app), user.id, device.id)
        w.headers[name] = {"Authorization": f"Bearer {token}"}
        w.devices[name] = device
    w.users = users
    s.commit()
    o = w.objects
    o.update(
        {
            "region@a": str(base.county_a.id),
            "region@b": str(base.county_b.id),
            "region@city": str(base.city.id),
            "school@core_a": str(base.core_a.id),
            "school@member_a": str(base.member_a.id),
            "school@other_a": str(base.other_a.id),
            "school@core_b": str(base.core_b.id),
            "other_school@b": str(other_b.id),
            "member_school@a": str(base.member_a.id),
            "member_school@b": str(base.member_b.id),
            "community@a": str(base.community_a.id),
            "community@b": str(base.community_b.id),
            "teacher@a": str(base.teacher_a.id),
            "teacher@a2": str(base.teacher_a2.id),
            "teacher@b": str(base.teacher_b.id),
            "secondment@a": str(base.secondment_a.id),
            "secondment@a2": str(sec_a2.id),
            "secondment@b": str(base.secondment_b.id),
            "user@teacher_a": str(users["teacher_a"].id),
            "user@host_admin_a": str(users["host_admin_a"].id),
            "user@teacher_b": str(users["teacher_b"].id),
            "device@teacher_a": str(w.devices["teacher_a"].id),
            "device@teacher_a2": str(w.devices["teacher_a2"].id),
            "device@teacher_b": str(w.devices["teacher_b"].id),
        }
    )
    teachers = {"a": base.teacher_a, "a2": base.teacher_a2, "b": base.teacher_b}
    secondments = {"a": base.secondment_a, "a2": sec_a2, "b": base.secondment_b}
    teacher_persona = {"a": "teacher_a", "a2": "teacher_a2", "b": "teacher_b"}

    # --- org: membership changes (pending) -------------------------------------------------
    for owner, community, school, bureau in (
        ("a", base.community_a, base.other_a, "bureau_a"),
        ("b", base.community_b, other_b, "bureau_b"),
    ):
        change = w.ok(
            bureau,
            "POST",
            f"{API}/communities/{community.id}/membership-changes",
            {
                "school_id": str(school.id),
                "action": "join",
                "effective_on": "2027-02-01",
                "reason": "county plan",
            },
        )
        o[f"membership_change@{owner}"] = change["id"]

    # --- attendance ------------------------------------------------------------------------
    for owner, teacher in teachers.items():
        _flagged_check_in(w, f"authz-flag-{owner}", teacher, secondments[owner])
        o[f"check_in@{owner}"] = f"authz-flag-{owner}"
    s.commit()
    for owner, persona in teacher_persona.items():
        # A punch through sync as well, so the sync pull has one of each teacher's own.
        phone = w.phone(persona, version=1)
        record = check_in(f"authz-ci-{owner}", captured_at=NOW_MS - 60_000)
        pushed = push(phone, "check_ins", created=[record])
        assert pushed["applied"] == 1, pushed
        o[f"sync_check_in@{owner}"] = f"authz-ci-{owner}"
    with today_is(LEAVE_DAY):
        for owner, persona in teacher_persona.items():
            o[f"leave@{owner}"] = w.ok(persona, "POST", f"{API}/leave-requests", leave_body())["id"]
    with today_is(PUNCH_DAY):
        for owner, persona in teacher_persona.items():
            made = w.ok(persona, "POST", f"{API}/punch-corrections", correction_body())
            o[f"correction@{owner}"] = made["id"]
    with today_is(ASSESS_DAY):
        for owner, admin in (("a", "host_admin_a"), ("a2", "host_admin_a"), ("b", "host_admin_b")):
            w.ok(
                admin,
                "PUT",
                f"{API}/attendance/assessments/{teachers[owner].id}/{ASSESS_MONTH}",
                {"grade": "good", "dimensions": {"diligence": "good"}, "comment": "认真"},
            )
        for owner, bureau, county in (
            ("a", "bureau_a", base.county_a),
            ("b", "bureau_b", base.county_b),
        ):
            rule = w.ok(
                bureau,
                "POST",
                f"{API}/attendance/rules",
                {"region_id": str(county.id), "effective_from": "2027-02-01"},
            )
            o[f"rule@{owner}"] = rule["id"]
    for owner, bureau, county, core in (
        ("a", "bureau_a", base.county_a, base.core_a),
        ("b", "bureau_b", base.county_b, base.core_b),
    ):
        period = w.ok(
            bureau,
            "POST",
            f"{API}/calendar/regions/{county.id}/periods",
            {
                "school_year": 2025,
                "kind": "vacation",
                "name": "寒假",
                "start_on": "2026-01-24",
                "end_on": "2026-03-01",
            },
        )
        o[f"period@{owner}"] = period["id"]
        w.ok(
            bureau,
            "PUT",
            f"{API}/calendar/regions/{county.id}/years/2027",
            {
                "notice": "通知",
                "entries": [{"date": "2027-02-10", "kind": "holiday", "name": "春节"}],
            },
        )
        exception = w.ok(
            bureau,
            "POST",
            f"{API}/calendar/schools/{core.id}/exceptions",
            {"kind": "closed", "start_on": "2025-12-15", "end_on": "2025-12-16", "reason": "暴雪"},
        )
        o[f"exception@{owner}"] = exception["id"]

    # --- inspection ------------------------------------------------------------------------
    for owner, bureau in (("a", "bureau_a"), ("b", "bureau_b")):
        o[f"plan_draft@{owner}"] = _plan(w, bureau)
        o[f"plan_committed@{owner}"] = _plan(w, bureau, "commit")
        o[f"plan_drawn@{owner}"] = _plan(w, bureau, "commit", "draw")
    # Which county A inspector the draw picked is the "assigned" persona, inspector_a.
    checks: dict[str, SpotCheck] = {}
    for owner in ("a", "b"):
        checks[owner] = s.scalars(
            sa.select(SpotCheck).where(SpotCheck.plan_id == uuid.UUID(o[f"plan_drawn@{owner}"]))
        ).one()
        o[f"spot_check@{owner}"] = str(checks[owner].id)
    assigned = set(
        s.scalars(
            sa.select(SpotCheckInspector.inspector_id).where(
                SpotCheckInspector.spot_check_id == checks["a"].id
            )
        )
    )
    # Two of county A's three inspectors were drawn: the one left out is inspector_a2.
    (unassigned,) = [
        name
        for name in ("inspector_a", "inspector_a2", "inspector_a3")
        if w.users[name].id not in assigned
    ]
    if unassigned != "inspector_a2":
        for table in (w.users, w.headers, w.devices):
            swapped: dict[str, Any] = table
            swapped[unassigned], swapped["inspector_a2"] = (
                swapped["inspector_a2"],
                swapped[unassigned],
            )
    assert w.users["inspector_a"].id in assigned and w.users["inspector_a2"].id not in assigned
    # The visits: windows moved around today (the draw put them in October), then each
    # assigned inspector records one from the phone.
    for owner, persona, teacher in (
        ("a", "inspector_a", base.teacher_a),
        ("b", "inspector_b", base.teacher_b),
    ):
        check = checks[owner]
        check.window_start = clock.today() - timedelta(days=3)
        check.window_end = clock.today() + timedelta(days=3)
        s.commit()
        teacher_ids = list(
            s.scalars(
                sa.select(SpotCheckTeacher.teacher_id).where(
                    SpotCheckTeacher.spot_check_id == check.id
                )
            )
        )
        target = teacher_ids[0] if teacher_ids else teacher.id
        record = _visit_record(f"authz-visit-{owner}", check.id, target)
        pushed = push(w.phone(persona, version=3), "spot_check_visits", created=[record])
        assert pushed["applied"] == 1, (pushed, _quarantined(s))
        o[f"visit@{owner}"] = record["id"]
    for owner, bureau, county in (
        ("a", "bureau_a", base.county_a),
        ("b", "bureau_b", base.county_b),
    ):
        recused = factories.user(s, app, "inspector", region_id=county.id)
        s.commit()
        conflict = w.ok(
            bureau,
            "POST",
            f"{API}/inspection/conflicts",
            {
                "inspector_id": str(recused.id),
                "school_id": str((base.member_a if owner == "a" else base.member_b).id),
                "kind": "own_school",
            },
        )
        o[f"conflict@{owner}"] = conflict["id"]

    # --- classes and evidence -------------------------------------------------------------
    for owner, community, lead, teacher, receiver, admin in (
        ("a", base.community_a, base.core_a, base.teacher_a, base.member_a, "school_admin_a"),
        ("b", base.community_b, base.core_b, base.teacher_b, base.member_b, "school_admin_b"),
    ):
        entry = w.ok(
            admin,
            "POST",
            f"{API}/classes/timetable",
            _timetable_body(community, lead, teacher, receiver),
        )
        o[f"timetable@{owner}"] = entry["id"]
        persona = teacher_persona[owner]
        _photos(s, w.users[persona].id, f"lead-{owner}", f"recv-{owner}")
        s.commit()
        made = w.ok(
            persona,
            "POST",
            f"{API}/classes/sessions",
            session_form(community, lead, teacher, receiver, f"lead-{owner}", f"recv-{owner}"),
        )
        o[f"class_session@{owner}"] = made["id"]
        item = w.ok(admin, "POST", f"{API}/evidence", evidence_body(community))
        o[f"evidence@{owner}"] = item["id"]
    for owner, bureau, county in (
        ("a", "bureau_a", base.county_a),
        ("b", "bureau_b", base.county_b),
    ):
        rubric = w.ok(
            bureau,
            "POST",
            f"{API}/rubrics",
            {
                "school_year": 2027,
                "name": "2027年考核细则",
                "definition": default_definition(),
                "region_id": str(county.id),
            },
        )
        o[f"rubric@{owner}"] = rubric["id"]

    # --- reports ---------------------------------------------------------------------------
    last_month = (clock.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    for owner, host_admin, host, home_admin in (
        ("a", "host_admin_a", base.member_a, "school_admin_a"),
        ("b", "host_admin_b", base.member_b, "school_admin_b"),
    ):
        run = w.ok(
            host_admin,
            "POST",
            f"{API}/reports/host/tally",
            {"school_id": str(host.id), "month": f"{last_month:%Y-%m}"},
        )
        run = w.ok(host_admin, "GET", f"{API}/reports/runs/{run['id']}")
        assert run["status"] == "done", run
        o[f"run@{owner}"] = run["id"]
        rid = str(run["result"]["report_id"])
        o[f"host_report@{owner}"] = rid
        url = f"{API}/reports/host/{rid}"
        w.ok(host_admin, "POST", f"{url}/confirm", None, headers=w.etag(host_admin, url))
        page = w.ok(home_admin, "GET", f"{API}/reports/inbox")
        (item,) = page["items"]
        o[f"home_report@{owner}"] = item["id"]
        # A second tally of the month, unconfirmed: what a confirm cell acts on.
        tallied = w.ok(host_admin, "GET", url)
        o[f"host_report_confirmed@{owner}"] = rid
        del tallied

    # --- media and sync review --------------------------------------------------------------
    for owner, persona in teacher_persona.items():
        (photo,) = _photos(s, w.users[persona].id, f"own-{owner}")
        o[f"photo@{owner}"] = str(photo.id)
        s.commit()
        phone = w.phone(persona, version=1)
        bad = check_in(f"authz-q-{owner}-000001", kind="?")
        pushed = push(phone, "check_ins", created=[bad])
        assert pushed["quarantined"] == 1, pushed
    from sync.models import QuarantinedRecord

    for owner, persona in teacher_persona.items():
        # A tus upload begun on the teacher's phone (three bytes to come).
        data = b"abc"
        response = w.call(
            persona,
            "POST",
            f"{API}/uploads",
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(data)),
                "Upload-Metadata": ",".join(
                    f"{key} {base64.b64encode(value.encode()).decode()}"
                    for key, value in {
                        "photo_id": f"upl-{owner}",
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "content_type": "image/jpeg",
                        "filename": "x.jpg",
                    }.items()
                ),
            },
        )
        assert response.status_code == 201, response.get_json()
        o[f"upload@{owner}"] = response.headers["Location"].rsplit("/", 1)[1]
    for owner, persona in teacher_persona.items():
        entry = s.scalars(
            sa.select(QuarantinedRecord).where(QuarantinedRecord.user_id == w.users[persona].id)
        ).one()
        o[f"quarantine@{owner}"] = str(entry.id)
    s.commit()
    return w
