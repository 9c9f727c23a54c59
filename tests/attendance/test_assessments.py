"""月考核 over HTTP: the host school's admin grades a teacher it hosts for a month that has
begun; revisions need the ETag; everyone else reads within their scope."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance.day_models import MonthlyAssessment
from backend.exchange.models import Secondment
from tests import factories
from tests.factories import World, fresh
from tests.org.support import API, expect_error, ok

ASSESSMENTS = f"{API}/attendance/assessments"
TODAY = date(2026, 11, 20)
RULE = "003 §四(三)4"
GOOD = {
    "grade": "good",
    "dimensions": {"morality": "excellent", "diligence": "good"},
    "comment": "按时到岗，认真备课",
}


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> date:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    return TODAY


def _url(world: World, month: str = "2026-10", teacher: Any = None) -> str:
    return f"{ASSESSMENTS}/{(teacher or world.teacher_a).id}/{month}"


def _put(
    client: FlaskClient,
    world: World,
    body: dict[str, Any],
    *,
    who: str = "host_admin_a",
    month: str = "2026-10",
    teacher: Any = None,
    if_match: str | None = None,
) -> Any:
    headers = dict(world.headers[who])
    if if_match is not None:
        headers["If-Match"] = if_match
    return client.put(_url(world, month, teacher), json=body, headers=headers)


def test_the_host_admin_assesses_a_month(
    client: FlaskClient, session: Session, world: World
) -> None:
    response = _put(client, world, GOOD)
    body = ok(response, 201)
    assert response.headers["ETag"]
    assert body["month"] == "2026-10" and body["grade"] == "good" and body["revision"] == 1
    assert body["dimensions"] == GOOD["dimensions"] and body["comment"] == GOOD["comment"]
    assert body["secondment_id"] == str(world.secondment_a.id)
    assert body["host_school_id"] == str(world.member_a.id)
    assert body["assessed_by_id"] == str(world.users["host_admin_a"].id)
    (row,) = fresh(session, sa.select(MonthlyAssessment))
    assert row.month == date(2026, 10, 1)

    read = client.get(_url(world), headers=world.headers["host_admin_a"])
    assert ok(read) == body and read.headers["ETag"] == response.headers["ETag"]


def test_the_current_month_may_be_assessed_but_not_a_future_one(
    client: FlaskClient, world: World
) -> None:
    ok(_put(client, world, GOOD, month="2026-11"), 201)
    expect_error(_put(client, world, GOOD, month="2026-12"), 422, "month_not_started", rule=RULE)


def test_a_revision_needs_the_etag(client: FlaskClient, session: Session, world: World) -> None:
    first = _put(client, world, GOOD)
    etag = first.headers["ETag"]
    revised = {"grade": "excellent"}
    expect_error(_put(client, world, revised), 428, "precondition_required")
    expect_error(_put(client, world, revised, if_match='"stale"'), 412, "precondition_failed")
    second = _put(client, world, revised, if_match=etag)
    body = ok(second)  # 200: a revision
    assert body["revision"] == 2 and body["grade"] == "excellent"
    # A PUT replaces the whole assessment: what it leaves out is cleared.
    assert body["dimensions"] == {} and body["comment"] == ""
    assert second.headers["ETag"] != etag
    # The first ETag is stale now: someone else's revision is not overwritten unseen.
    expect_error(_put(client, world, GOOD, if_match=etag), 412, "precondition_failed")
    assert ok(_put(client, world, GOOD, if_match=second.headers["ETag"]))["revision"] == 3
    (row,) = fresh(session, sa.select(MonthlyAssessment))
    assert row.revision == 3 and row.grade == "good"


def test_if_match_on_a_first_assessment_cannot_match(client: FlaskClient, world: World) -> None:
    expect_error(_put(client, world, GOOD, if_match='"anything"'), 412, "precondition_failed")


@pytest.mark.parametrize("who", ["school_admin_a", "school_admin_b"])
def test_only_the_host_school_assesses(client: FlaskClient, world: World, who: str) -> None:
    # The home school's admin reads the assessment but does not give it.
    expect_error(_put(client, world, GOOD, who=who), 404, "not_found")


@pytest.mark.parametrize("who", ["teacher_a", "bureau_a", "inspector_a"])
def test_other_roles_never_assess(client: FlaskClient, world: World, who: str) -> None:
    expect_error(_put(client, world, GOOD, who=who), 403, "forbidden")


def test_a_teacher_never_seconded_here_is_not_found(client: FlaskClient, world: World) -> None:
    expect_error(_put(client, world, GOOD, teacher=world.teacher_a2), 404, "not_found")
    expect_error(_put(client, world, GOOD, teacher=world.teacher_b), 404, "not_found")


def test_the_month_must_overlap_an_active_secondment(
    client: FlaskClient, session: Session, world: World
) -> None:
    expect_error(
        _put(client, world, GOOD, month="2026-08"),
        422,
        "no_secondment_that_month",
        rule=RULE,
    )
    ok(_put(client, world, GOOD, month="2026-09"), 201)  # from its first day
    session.execute(
        sa.update(Secondment)
        .where(Secondment.id == world.secondment_a.id)
        .values(status="cancelled")
    )
    session.commit()
    expect_error(_put(client, world, GOOD), 422, "no_secondment_that_month", rule=RULE)


def test_a_secondment_ending_mid_month_counts(
    client: FlaskClient, session: Session, world: World
) -> None:
    session.execute(
        sa.update(Secondment)
        .where(Secondment.id == world.secondment_a.id)
        .values(start_on=date(2026, 3, 1), end_on=date(2026, 6, 10))
    )
    session.commit()
    assert ok(_put(client, world, GOOD, month="2026-06"), 201)["month"] == "2026-06"
    expect_error(
        _put(client, world, GOOD, month="2026-07"), 422, "no_secondment_that_month", rule=RULE
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "grade"),
        ({"grade": "great"}, "grade"),
        ({"grade": "good", "dimensions": {"beauty": "good"}}, "dimensions"),
        ({"grade": "good", "dimensions": {"morality": "superb"}}, "dimensions"),
        ({"grade": "good", "comment": "好" * 2001}, "comment"),
        ({"grade": "good", "revision": 7}, "revision"),
    ],
)
def test_invalid_assessments_are_refused(
    client: FlaskClient, world: World, body: dict[str, Any], field: str
) -> None:
    expect_error(_put(client, world, body), 422, "validation_error", field=field, location="json")


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "202610", "october"])
def test_the_month_is_yyyy_mm(client: FlaskClient, world: World, month: str) -> None:
    expect_error(
        _put(client, world, GOOD, month=month),
        422,
        "validation_error",
        field="month",
        location="path",
    )


def test_reading_one_is_scoped(client: FlaskClient, world: World) -> None:
    created = ok(_put(client, world, GOOD), 201)
    for who in ("teacher_a", "host_admin_a", "school_admin_a", "bureau_a", "inspector_a"):
        assert ok(client.get(_url(world), headers=world.headers[who]))["id"] == created["id"]
    for who in ("teacher_b", "teacher_a2", "school_admin_b", "bureau_b", "inspector_b"):
        expect_error(client.get(_url(world), headers=world.headers[who]), 404, "not_found")
    expect_error(
        client.get(_url(world, "2026-09"), headers=world.headers["teacher_a"]), 404, "not_found"
    )


def test_a_teacher_assessed_by_two_host_schools_in_a_month(
    client: FlaskClient, session: Session, world: World, app: Any
) -> None:
    # Teacher A moved from member_a to other_a on 2026-10-16 (a bureau exception).
    session.execute(
        sa.update(Secondment)
        .where(Secondment.id == world.secondment_a.id)
        .values(end_on=date(2026, 10, 15))
    )
    factories.secondment(
        session,
        world.teacher_a,
        world.other_a,
        start_on=date(2026, 10, 16),
        cross_community_exception=True,
        exception_reason="新校区缺数学教师",
    )
    other_admin = factories.bearer(
        session, app, factories.user(session, app, "school_admin", school_id=world.other_a.id)
    )
    session.commit()
    ok(_put(client, world, GOOD), 201)
    later = client.put(_url(world), json={"grade": "pass"}, headers=other_admin)
    assert ok(later, 201)["host_school_id"] == str(world.other_a.id)

    # Each host school sees its own; the home school and the teacher must name one.
    assert ok(client.get(_url(world), headers=other_admin))["grade"] == "pass"
    expect_error(
        client.get(_url(world), headers=world.headers["school_admin_a"]),
        422,
        "validation_error",
        field="host_school_id",
        location="query",
    )
    named = f"{_url(world)}?host_school_id={world.member_a.id}"
    assert ok(client.get(named, headers=world.headers["teacher_a"]))["grade"] == "good"


def test_the_list_is_scoped_and_filtered(
    client: FlaskClient, session: Session, world: World
) -> None:
    october = ok(_put(client, world, GOOD), 201)
    september = ok(_put(client, world, {"grade": "pass"}, month="2026-09"), 201)

    def listed(who: str, query: str = "") -> list[str]:
        page = ok(client.get(f"{ASSESSMENTS}{query}", headers=world.headers[who]))
        return sorted(item["id"] for item in page["items"])

    both = sorted([october["id"], september["id"]])
    for who in ("host_admin_a", "school_admin_a", "teacher_a", "bureau_a", "bureau_city"):
        assert listed(who) == both
    for who in ("teacher_b", "school_admin_b", "bureau_b"):
        assert listed(who) == []
    assert listed("bureau_a", "?month=2026-10") == [october["id"]]
    assert listed("bureau_a", f"?teacher_id={world.teacher_b.id}") == []
    assert listed("bureau_a", f"?host_school_id={world.member_a.id}&month=2026-09") == [
        september["id"]
    ]
    page = ok(client.get(f"{ASSESSMENTS}?limit=1", headers=world.headers["bureau_a"]))
    assert len(page["items"]) == 1 and page["next_cursor"]
    expect_error(
        client.get(f"{ASSESSMENTS}?month=2026/10", headers=world.headers["bureau_a"]),
        422,
        "validation_error",
        field="month",
        location="query",
    )
