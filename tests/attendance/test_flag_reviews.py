"""The flag review queue: one entry per (check-in, flag) in the reviewer's scope, newest
first, open/reviewed filters, append-only reviews whose latest decides, the day re-derived."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.day_models import TeacherDay, TeacherDayChange
from backend.attendance.daybook import latest_reviews
from backend.attendance.models import CheckIn, FlagReview
from backend.clock import CHINA
from tests.factories import World, fresh
from tests.org.support import API, expect_error, ok
from tests.sync.phone import Phone, check_in

FLAGS = f"{API}/attendance/flags"
OUTSIDE = {"code": "outside_fence", "reason": "2.1 km beyond the fence of school S1"}
SKEW = {"code": "clock_skew", "reason": "device clock 60 min behind"}
MOCK = {"code": "mock_location", "reason": "the phone reported a mock location"}


def _check_in(
    session: Session,
    world: World,
    record_id: str,
    at: datetime,
    flags: list[dict[str, str]],
    *,
    teacher: Any = None,
    host: Any = None,
    kind: str = "in",
) -> None:
    teacher = teacher or world.teacher_a
    host = host or world.member_a
    secondment = world.secondment_a if teacher is world.teacher_a else world.secondment_b
    session.add(
        CheckIn(
            id=record_id,
            teacher_id=teacher.id,
            kind=kind,
            captured_at=int(at.timestamp() * 1000),
            latitude=35.99,
            longitude=105.73,
            accuracy_m=10.0,
            received_at=at + timedelta(minutes=5),
            secondment_id=secondment.id,
            host_school_id=host.id,
            location="outside" if OUTSIDE in flags else "inside",
            distance_m=2100.0 if OUTSIDE in flags else -200.0,
            estimated_at=at,
            estimate_method="skew_only",
            status="flagged" if flags else "accepted",
            flags=flags,
            client_digest="0" * 64,
        )
    )


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=CHINA)


@pytest.fixture
def punches(session: Session, world: World) -> World:
    """Teacher A's flagged punches at member_a (and an unflagged one), teacher B's at member_b."""
    _check_in(session, world, "ci-1", _at(12, 7, 55), [OUTSIDE])
    _check_in(session, world, "ci-2", _at(13, 8, 5), [SKEW, MOCK])
    _check_in(session, world, "ci-3", _at(14, 17, 40), [OUTSIDE], kind="out")
    _check_in(session, world, "ci-4", _at(15, 7, 50), [])
    _check_in(
        session,
        world,
        "ci-b",
        _at(14, 8, 0),
        [OUTSIDE],
        teacher=world.teacher_b,
        host=world.member_b,
    )
    session.commit()
    return world


def _queue(client: FlaskClient, world: World, who: str, query: str = "") -> dict[str, Any]:
    return ok(client.get(f"{FLAGS}{query}", headers=world.headers[who]))


def _keys(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["check_in_id"], item["code"]) for item in page["items"]]


def _review(
    client: FlaskClient,
    world: World,
    check_in_id: str,
    code: str,
    decision: str = "dismissed",
    note: str = "GPS drifted at the gate",
    who: str = "host_admin_a",
) -> Any:
    return client.post(
        f"{API}/attendance/check-ins/{check_in_id}/flags/{code}/review",
        json={"decision": decision, "note": note},
        headers=world.headers[who],
    )


def test_the_queue_lists_each_flag_newest_first(client: FlaskClient, punches: World) -> None:
    page = _queue(client, punches, "host_admin_a")
    assert _keys(page) == [
        ("ci-3", "outside_fence"),
        ("ci-2", "mock_location"),
        ("ci-2", "clock_skew"),
        ("ci-1", "outside_fence"),
    ]
    first = page["items"][0]
    assert first["teacher_id"] == str(punches.teacher_a.id) and first["teacher_name"]
    assert first["kind"] == "out" and first["location"] == "outside"
    assert first["distance_m"] == 2100.0 and first["reason"] == OUTSIDE["reason"]
    assert first["host_school_id"] == str(punches.member_a.id)
    assert datetime.fromisoformat(first["estimated_at"]) == _at(14, 17, 40)
    assert first["review"] is None and page["next_cursor"] is None


def test_the_queue_is_scoped(client: FlaskClient, punches: World) -> None:
    assert len(_queue(client, punches, "bureau_a")["items"]) == 4
    assert len(_queue(client, punches, "bureau_city")["items"]) == 5
    assert _keys(_queue(client, punches, "bureau_b")) == [("ci-b", "outside_fence")]
    # The home school reads attendance but does not review it.
    assert _queue(client, punches, "school_admin_a")["items"] == []
    for who in ("teacher_a", "inspector_a"):
        expect_error(client.get(FLAGS, headers=punches.headers[who]), 403, "forbidden")


def test_filters(client: FlaskClient, punches: World) -> None:
    by_code = _queue(client, punches, "bureau_city", "?code=outside_fence")
    assert _keys(by_code) == [
        ("ci-3", "outside_fence"),
        ("ci-b", "outside_fence"),
        ("ci-1", "outside_fence"),
    ]
    school = _queue(client, punches, "bureau_city", f"?host_school_id={punches.member_b.id}")
    assert _keys(school) == [("ci-b", "outside_fence")]
    # Days are China's: 2026-10-13 08:05 CST is 00:05 UTC.
    days = _queue(client, punches, "host_admin_a", "?from=2026-10-13&to=2026-10-13")
    assert _keys(days) == [("ci-2", "mock_location"), ("ci-2", "clock_skew")]
    assert _keys(_queue(client, punches, "host_admin_a", "?from=2026-10-14")) == [
        ("ci-3", "outside_fence")
    ]
    assert len(_queue(client, punches, "host_admin_a", "?to=2026-10-12")["items"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?state=closed", "state"),
        ("?from=2026-10-14&to=2026-10-13", "to"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?limit=0", "limit"),
    ],
)
def test_bad_queue_queries(client: FlaskClient, punches: World, query: str, field: str) -> None:
    response = client.get(f"{FLAGS}{query}", headers=punches.headers["host_admin_a"])
    expect_error(response, 422, "validation_error", field=field, location="query")


def test_pages_follow_the_cursor(client: FlaskClient, punches: World) -> None:
    seen: list[tuple[str, str]] = []
    query = "?limit=2&state=all"
    while True:
        page = _queue(client, punches, "bureau_city", query)
        assert len(page["items"]) <= 2
        seen += _keys(page)
        if page["next_cursor"] is None:
            break
        query = f"?limit=2&state=all&cursor={page['next_cursor']}"
    assert seen == _keys(_queue(client, punches, "bureau_city", "?state=all"))
    assert len(seen) == 5


def test_reviews_are_appended_and_the_latest_decides(
    client: FlaskClient, session: Session, punches: World
) -> None:
    first = ok(_review(client, punches, "ci-1", "outside_fence", "accepted", "不在学校"), 201)
    assert first["decision"] == "accepted" and first["check_in_id"] == "ci-1"
    assert first["reviewer_id"] == str(punches.users["host_admin_a"].id)
    second = ok(
        _review(client, punches, "ci-1", "outside_fence", "dismissed", "校门口定位漂移，已核实"),
        201,
    )
    reviews = fresh(session, sa.select(FlagReview).order_by(FlagReview.reviewed_at))
    assert [(r.decision, r.note) for r in reviews] == [
        ("accepted", "不在学校"),
        ("dismissed", "校门口定位漂移，已核实"),
    ]
    latest = latest_reviews(session, ["ci-1", "ci-2", "nope"])
    assert set(latest) == {("ci-1", "outside_fence")}
    assert str(latest[("ci-1", "outside_fence")].id) == second["id"]

    reviewed = _queue(client, punches, "host_admin_a", "?state=reviewed")
    assert _keys(reviewed) == [("ci-1", "outside_fence")]
    shown = reviewed["items"][0]["review"]
    assert shown["decision"] == "dismissed" and shown["note"] == "校门口定位漂移，已核实"
    assert shown["reviewer_id"] == str(punches.users["host_admin_a"].id)
    assert shown["reviewer_name"] == punches.users["host_admin_a"].username
    assert ("ci-1", "outside_fence") not in _keys(_queue(client, punches, "host_admin_a"))
    assert len(_queue(client, punches, "host_admin_a", "?state=all")["items"]) == 4

    # Reviewing one flag of a check-in leaves its other flag open.
    ok(_review(client, punches, "ci-2", "clock_skew", "accepted", "手机时间被改"), 201)
    assert _keys(_queue(client, punches, "host_admin_a", "?code=mock_location")) == [
        ("ci-2", "mock_location")
    ]


def test_a_review_rederives_the_punch_day(
    client: FlaskClient, session: Session, punches: World
) -> None:
    ok(_review(client, punches, "ci-1", "outside_fence", "accepted", "人不在学校"), 201)
    (day,) = fresh(
        session,
        sa.select(TeacherDay).where(
            TeacherDay.teacher_id == punches.teacher_a.id, TeacherDay.day == date(2026, 10, 12)
        ),
    )
    causes = fresh(
        session,
        sa.select(TeacherDayChange.cause).where(TeacherDayChange.teacher_day_id == day.id),
    )
    assert "flag outside_fence on check-in ci-1 accepted" in causes


def test_the_bureau_reviews_within_its_region(client: FlaskClient, punches: World) -> None:
    ok(_review(client, punches, "ci-1", "outside_fence", who="bureau_a"), 201)
    expect_error(
        _review(client, punches, "ci-1", "outside_fence", who="bureau_b"), 404, "not_found"
    )


@pytest.mark.parametrize("who", ["school_admin_a", "school_admin_b"])
def test_other_schools_cannot_review(client: FlaskClient, punches: World, who: str) -> None:
    expect_error(_review(client, punches, "ci-1", "outside_fence", who=who), 404, "not_found")


@pytest.mark.parametrize("who", ["teacher_a", "inspector_a"])
def test_other_roles_never_review(client: FlaskClient, punches: World, who: str) -> None:
    expect_error(_review(client, punches, "ci-1", "outside_fence", who=who), 403, "forbidden")


def test_only_a_flag_the_check_in_has(
    client: FlaskClient, session: Session, punches: World
) -> None:
    expect_error(_review(client, punches, "ci-1", "clock_skew"), 404, "not_found")
    expect_error(_review(client, punches, "ci-4", "outside_fence"), 404, "not_found")
    expect_error(_review(client, punches, "no-such-check-in", "outside_fence"), 404, "not_found")
    session.execute(sa.update(CheckIn).where(CheckIn.id == "ci-3").values(deleted_at=_at(20, 9)))
    session.commit()
    expect_error(_review(client, punches, "ci-3", "outside_fence"), 404, "not_found")
    assert ("ci-3", "outside_fence") not in _keys(_queue(client, punches, "host_admin_a"))
    assert fresh(session, sa.select(FlagReview)) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe", "note": "x"}, "decision"),
        ({"note": "x"}, "decision"),
        ({"decision": "accepted"}, "note"),
        ({"decision": "dismissed", "note": ""}, "note"),
        ({"decision": "dismissed", "note": "   "}, "note"),
        ({"decision": "dismissed", "note": "x" * 1001}, "note"),
    ],
)
def test_a_review_needs_a_decision_and_a_note(
    client: FlaskClient, punches: World, body: dict[str, Any], field: str
) -> None:
    response = client.post(
        f"{API}/attendance/check-ins/ci-1/flags/outside_fence/review",
        json=body,
        headers=punches.headers["host_admin_a"],
    )
    expect_error(response, 422, "validation_error", field=field, location="json")


def test_a_synced_punch_far_from_the_fence_reaches_the_queue(
    client: FlaskClient, session: Session, world: World, phone: Phone
) -> None:
    phone.create("check_ins", check_in("flagq00000000001", latitude=35.99, accuracy_m=10))
    assert phone.sync().status_code == 200
    page = _queue(client, world, "host_admin_a")
    assert _keys(page) == [("flagq00000000001", "outside_fence")]
    assert page["items"][0]["distance_m"] > 2_000
    ok(_review(client, world, "flagq00000000001", "outside_fence", "accepted", "不在校"), 201)
    assert _queue(client, world, "host_admin_a")["items"] == []
