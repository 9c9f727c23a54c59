"""Lists never leak: every list GET under /api/v1 and the sync pull of every REGISTRY
table, for every persona, walking all pages. No id of an object the persona may not see
appears anywhere in the JSON; the ids of the listed kind it may see do appear (so an empty
list by mistake fails too).

Who may see what is read from the matrix itself: an object is visible to a persona when
the GET of that object (its ``VISIBLE_BY`` row) answers 200.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sync.protocol import SCHEMA_VERSION_MAX
from sync.tables import REGISTRY
from tests.security.authz.matrix import COLUMNS, EXEMPT, MATRIX, expected
from tests.security.authz.world import API, SCHOOL_YEAR, AuthzWorld

# kind -> the matrix row that says who sees such an object
VISIBLE_BY: dict[str, str] = {
    "region": "GET /api/v1/regions/<uuid:region_id>",
    "school": "GET /api/v1/schools/<uuid:school_id>",
    "community": "GET /api/v1/communities/<uuid:community_id>",
    "teacher": "GET /api/v1/teachers/<uuid:teacher_id>",
    "secondment": "GET /api/v1/secondments/<uuid:secondment_id>",
    "user": "GET /api/v1/users/<uuid:user_id>",
    "leave": "GET /api/v1/leave-requests/<string:request_id>",
    "correction": "GET /api/v1/punch-corrections/<string:request_id>",
    "rule": "GET /api/v1/attendance/rules/<uuid:rule_id>",
    "plan_draft": "GET /api/v1/inspection/plans/<uuid:plan_id>",
    "plan_committed": "GET /api/v1/inspection/plans/<uuid:plan_id>",
    "plan_drawn": "GET /api/v1/inspection/plans/<uuid:plan_id>",
    "spot_check": "GET /api/v1/inspection/spot-checks/<uuid:spot_check_id>",
    "visit": "GET /api/v1/inspection/visits/<string:visit_id>",
    "timetable": "GET /api/v1/classes/timetable/<uuid:entry_id>",
    "class_session": "GET /api/v1/classes/sessions/<string:session_id>",
    "evidence": "GET /api/v1/evidence/<string:item_id>",
    "rubric": "GET /api/v1/rubrics/<uuid:rubric_id>",
    "host_report": "GET /api/v1/reports/host/<uuid:report_id>",
    "home_report": "GET /api/v1/reports/home/<uuid:report_id>",
    "run": "GET /api/v1/reports/runs/<uuid:run_id>",
    "photo": "GET /api/v1/photos/<uuid:photo_pk>",
    # Same scope as the row named (policy.py): a device's READ and WRITE scopes are one;
    # check-ins share the attendance scope of leave requests; conflicts the bureau's
    # regional scope of plans; the quarantine the USER READ scope of its user.
    "device": "POST /api/v1/devices/<uuid:device_pk>/revoke",
    "check_in": "GET /api/v1/leave-requests/<string:request_id>",
    "sync_check_in": "GET /api/v1/leave-requests/<string:request_id>",
    "conflict": "GET /api/v1/inspection/plans/<uuid:plan_id>",
    "quarantine": "GET /api/v1/users/<uuid:user_id>",
}
# Owners named differently in the row than in the world ("quarantine@a" is teacher A's).
OWNER_IN_ROW: dict[tuple[str, str], str] = {
    ("quarantine", "a"): "teacher_a",
    ("quarantine", "a2"): "teacher_a",  # same home school: the same USER READ scope
    ("quarantine", "b"): "teacher_b",
}
# Kinds whose ids are not checked in lists: the school "owners" of the board and calendar
# rows are the school kind already; the rest are world helpers.
NOT_LISTED = {"member_school", "other_school", "exception", "period", "upload", "membership_change"}
NOT_LISTED |= {"host_report_confirmed"}


def visible(kind: str, owner: str, row: str | None = None) -> dict[str, bool]:
    row = row or VISIBLE_BY[kind]
    if row != VISIBLE_BY[kind] or kind != "quarantine":
        owner = owner if row != VISIBLE_BY[kind] else OWNER_IN_ROW.get((kind, owner), owner)
    codes = expected(row, OWNER_IN_ROW.get((kind, owner), owner))
    return {persona: code < 300 for persona, code in codes.items()}


def _ids(authz: AuthzWorld) -> list[tuple[str, str, str]]:
    """(kind, owner, id) of every object of the world that lists might carry."""
    found = []
    for key, value in authz.objects.items():
        kind, owner = key.split("@", 1)
        if kind not in NOT_LISTED:
            found.append((kind, owner, value))
    return found


REVIEW = "POST /api/v1/reviews/{}/<string:record_id>/verify"
FLAG_REVIEW = "POST /api/v1/attendance/check-ins/<string:check_in_id>/flags/<string:code>/review"

# list route -> (its queries, the kinds it lists: each id of them the persona may see must
# appear; the row saying who may see one, where it is not the kind's VISIBLE_BY row)
LISTS: dict[str, tuple[tuple[str, ...], dict[str, str | None]]] = {
    "GET /api/v1/attendance/assessments": (("?month=2026-10",), {}),
    "GET /api/v1/attendance/flags": (("",), {"check_in": FLAG_REVIEW}),
    "GET /api/v1/attendance/rules": (("",), {"rule": None}),
    "GET /api/v1/classes/sessions": (("",), {"class_session": None}),
    "GET /api/v1/classes/timetable": (("",), {"timetable": None}),
    "GET /api/v1/communities": (("",), {"community": None}),
    "GET /api/v1/devices": (("",), {"device": None}),
    "GET /api/v1/evidence": (("",), {"evidence": None}),
    "GET /api/v1/inspection/conflicts": (("",), {"conflict": None}),
    "GET /api/v1/inspection/plans": (
        ("",),
        {"plan_draft": None, "plan_committed": None, "plan_drawn": None},
    ),
    "GET /api/v1/inspection/spot-checks": (("",), {"spot_check": None}),
    "GET /api/v1/leave-requests": (("",), {"leave": None}),
    "GET /api/v1/punch-corrections": (("",), {"correction": None}),
    "GET /api/v1/regions": (("",), {"region": None}),
    "GET /api/v1/reports/home": (("",), {"home_report": None}),
    "GET /api/v1/reports/host": (("",), {"host_report": None}),
    # The inbox holds what is not yet acknowledged: the world's reports are not.
    "GET /api/v1/reports/inbox": (
        ("",),
        {"home_report": "POST /api/v1/reports/home/<uuid:report_id>/acknowledge"},
    ),
    "GET /api/v1/reports/runs": (("",), {"run": None}),
    "GET /api/v1/reviews/queue": (
        ("?kind=evidence", "?kind=class_session"),
        {"evidence": REVIEW.format("evidence"), "class_session": REVIEW.format("class_session")},
    ),
    "GET /api/v1/rubrics": (("",), {"rubric": None}),
    "GET /api/v1/schools": (("",), {"school": None}),
    "GET /api/v1/scorecards": ((f"?school_year={SCHOOL_YEAR}",), {"community": None}),
    "GET /api/v1/secondments": (("",), {"secondment": None}),
    "GET /api/v1/sync/quarantine": (("",), {"quarantine": None}),
    "GET /api/v1/teachers": (("",), {"teacher": None}),
    "GET /api/v1/users": (("",), {"user": None}),
}
# Lists whose query names one object: called once per owner, like a matrix row.
# route -> (the kind named, the query, the matrix row saying who may see it)
SCOPED_LISTS: dict[str, tuple[str, str, str]] = {
    "GET /api/v1/attendance/rules/effective": (
        "school",
        "?school_id={id}",
        "GET /api/v1/schools/<uuid:school_id>",
    ),
    "GET /api/v1/classes/progress": (
        "community",
        "?community_id={id}",
        "GET /api/v1/classes/sessions/<string:session_id>",
    ),
}
# Kinds other records name as their parent, author or subject (a community's region, a
# form's submitting user, a timetable's lead teacher, a spot check's plan): checked in
# their own lists; anywhere else only the record kinds are.
REFERENCES = {"region", "user", "teacher", "school", "plan_draft", "plan_committed"}
REFERENCES |= {"plan_drawn"}


def test_every_exempt_list_is_walked() -> None:
    lists = {route for route, reason in EXEMPT.items() if reason.startswith("list")}
    assert lists == set(LISTS) | set(SCOPED_LISTS)


def _pages(authz: AuthzWorld, persona: str, url: str) -> tuple[int, list[Any]]:
    pages: list[Any] = []
    cursor = None
    for _ in range(50):
        sep = "&" if "?" in url else "?"
        page_url = url if cursor is None else f"{url}{sep}cursor={cursor}"
        response = authz.call(persona, "GET", page_url)
        if response.status_code != 200:
            return response.status_code, pages
        body = response.get_json()
        pages.append(body)
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not cursor:
            return 200, pages
    raise AssertionError(f"{url}: more than 50 pages")


def _has(text: str, value: str) -> bool:
    """``value`` as a whole token (``authz-ci-a`` is not in ``authz-ci-a2``)."""
    return re.search(rf"(?<![A-Za-z0-9_.-]){re.escape(value)}(?![A-Za-z0-9_.-])", text) is not None


def _leaks(
    authz: AuthzWorld,
    persona: str,
    text: str,
    items: frozenset[str] | set[str] = frozenset(),
    asked: str = "",
) -> list[str]:
    """Ids the persona may not see: of a record kind anywhere in ``text``, of any kind among
    the listed ``items`` (a reference kind may be named as a parent, not listed)."""
    return [
        f"{kind}@{owner}"
        for kind, owner, value in _ids(authz)
        if value != asked
        and not visible(kind, owner)[persona]
        and ((kind not in REFERENCES and _has(text, value)) or value in items)
    ]


def _item_ids(pages: list[Any]) -> set[str]:
    found: set[str] = set()
    for page in pages:
        items = page.get("items", []) if isinstance(page, dict) else page
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                found |= {str(item[k]) for k in ("id", "community_id") if item.get(k)}
    return found


@pytest.mark.parametrize("route", sorted(LISTS))
def test_a_list_shows_what_you_may_see_and_nothing_else(route: str, authz: AuthzWorld) -> None:
    queries, kinds = LISTS[route]
    answered = {}
    for query in queries:
        url = route.split(" ", 1)[1] + query
        for persona in COLUMNS:
            status, pages = _pages(authz, persona, url)
            answered[persona] = status
            assert status in (200, 403), (url, persona, status)
            text = json.dumps(pages)
            assert _leaks(authz, persona, text, _item_ids(pages)) == [], (url, persona)
            if status != 200:
                continue
            for kind, row in kinds.items():
                if "kind=" in query and f"kind={kind}" not in query:
                    continue
                for k, owner, value in _ids(authz):
                    if k == kind and visible(kind, owner, row)[persona]:
                        assert _has(text, value), f"{url}: {persona} misses {kind}@{owner}"
    assert 200 in answered.values(), route


@pytest.mark.parametrize("route", sorted(SCOPED_LISTS))
def test_a_scoped_list_answers_only_in_scope(route: str, authz: AuthzWorld) -> None:
    kind, query, row = SCOPED_LISTS[route]
    for k, owner, value in _ids(authz):
        if k != kind or owner not in {o for o in expected_owners(row)}:
            continue
        url = route.split(" ", 1)[1] + query.format(id=value)
        for persona in COLUMNS:
            response = authz.call(persona, "GET", url)
            if visible(kind, owner, row)[persona]:
                assert response.status_code == 200, (url, persona, response.get_json())
            else:
                assert response.status_code in (403, 404), (url, persona)
            text = response.get_data(as_text=True)
            assert _leaks(authz, persona, text, asked=value) == [], (url, persona)


def expected_owners(row: str) -> set[str]:
    return set(MATRIX[row])


# sync table -> the world kinds whose visible ids must arrive on the persona's phone
SYNCED: dict[str, tuple[str, ...]] = {
    "check_ins": ("sync_check_in",),
    "secondments": ("secondment",),
    "schools": (),
    "leave_requests": ("leave",),
    "punch_corrections": ("correction",),
    "attendance_days": (),
    "spot_checks": ("spot_check",),
    "spot_check_visits": ("visit",),
    "timetable_entries": ("timetable",),
    "class_sessions": ("class_session",),
    "evidence_items": ("evidence",),
}
# What a phone of each role pulls of those kinds (the rest of a role's scope is read in
# the browser): a teacher their own rows, an inspector the spot checks and visits drawn
# for them, a school admin its communities' timetables, forms and evidence.
PULLED_BY_ROLE: dict[str, set[str]] = {
    "teacher": {"sync_check_in", "secondment", "leave", "correction", "timetable"},
    "inspector": {"spot_check", "visit"},
    "school_admin": {"timetable", "class_session", "evidence"},
    "bureau_admin": set(),
}


def test_sync_knows_every_table() -> None:
    assert set(SYNCED) == REGISTRY.names()


@pytest.mark.parametrize("persona", COLUMNS)
def test_the_sync_pull_carries_no_foreign_row(persona: str, authz: AuthzWorld) -> None:
    response = authz.call(
        persona,
        "GET",
        f"{API}/sync?last_pulled_at=null&schema_version={SCHEMA_VERSION_MAX}&migration=null",
    )
    assert response.status_code == 200, response.get_json()
    changes = response.get_json()["changes"]
    assert set(changes) == set(SYNCED)
    assert _leaks(authz, persona, json.dumps(changes)) == []
    role = authz.users[persona].role
    for table, kinds in SYNCED.items():
        records = changes[table]["created"] + changes[table]["updated"]
        pulled = {record["id"] for record in records}
        for kind in kinds:
            if kind not in PULLED_BY_ROLE[role]:
                continue
            for k, owner, value in _ids(authz):
                if k == kind and visible(kind, owner)[persona]:
                    assert value in pulled, f"{persona} did not pull {kind}@{owner} ({table})"
