"""Spot-check plans over HTTP: the lifecycle, commit–reveal secrecy, the public record and
its verification, scope, recusals, and clear errors."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import clock
from backend.auth.models import User
from backend.db import utcnow
from backend.inspection import draw, plans
from backend.inspection.models import (
    InspectionPlan,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckVisit,
)
from tests import factories
from tests.conftest import TEST_SECRET
from tests.inspection.plan_support import (
    AFTER,
    BEFORE,
    PERIOD_END,
    PERIOD_START,
    drawn_plan,
    inspector,
    spot_checks,
)

PLANS = "/api/v1/inspection/plans"
PUBLIC = "/api/v1/public/inspection/plans"
CONFLICTS = "/api/v1/inspection/conflicts"


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set China's "today": ``today(day)``; it starts before the period."""

    def set_day(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    set_day(BEFORE)
    return set_day


@pytest.fixture
def inspectors(session: Session, world: factories.World) -> list[User]:
    """County A's inspectors: inspector_a and two more."""
    extra = [inspector(session, world.county_a.id) for _ in range(2)]
    session.commit()
    return [world.users["inspector_a"], *extra]


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "2026年秋季交流教师随机抽查",
        "period_start": PERIOD_START.isoformat(),
        "period_end": PERIOD_END.isoformat(),
        "target_count": 1,
        "window_days": 3,
    }
    data.update(overrides)
    return data


def create(client: FlaskClient, world: factories.World, **overrides: Any) -> dict[str, Any]:
    response = client.post(PLANS, json=body(**overrides), headers=world.headers["bureau_a"])
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def act(client: FlaskClient, world: factories.World, plan_id: str, step: str, **json_: Any) -> Any:
    return client.post(
        f"{PLANS}/{plan_id}/{step}", json=json_ or None, headers=world.headers["bureau_a"]
    )


def test_drawn_plan_helper(session: Session, world: factories.World) -> None:
    plan = drawn_plan(session, world)
    checks = spot_checks(session, plan)
    assert plan.status == "drawn"
    assert [c.school_id for c in checks] == [world.member_a.id]


# --- the lifecycle -----------------------------------------------------------------------------


def test_create_commit_draw_reveal(
    client: FlaskClient,
    app: Flask,
    world: factories.World,
    inspectors: list[User],
    today: Any,
    tmp_path: Path,
) -> None:
    bureau = world.headers["bureau_a"]
    plan = create(client, world, target_ratio=None)
    assert plan["status"] == "draft" and plan["region_id"] == str(world.county_a.id)
    assert plan["seed"] is None and plan["seed_commitment"] is None
    plan_id = plan["id"]

    # Draft: public nowhere.
    assert client.get(f"{PUBLIC}/{plan_id}").status_code == 404
    assert client.get(f"{PUBLIC}/{plan_id}/draw-record").status_code == 404

    got = client.get(f"{PLANS}/{plan_id}", headers=bureau)
    no_match = client.patch(f"{PLANS}/{plan_id}", json={"window_days": 4}, headers=bureau)
    assert no_match.status_code == 428
    patched = client.patch(
        f"{PLANS}/{plan_id}",
        json={"window_days": 4},
        headers={**bureau, "If-Match": got.headers["ETag"]},
    )
    assert patched.status_code == 200 and patched.get_json()["window_days"] == 4

    committed = act(client, world, plan_id, "commit")
    assert committed.status_code == 200, committed.get_json()
    assert committed.get_json()["status"] == "committed"
    commitment = committed.get_json()["seed_commitment"]
    assert len(commitment) == 64 and committed.get_json()["seed"] is None
    assert act(client, world, plan_id, "commit").status_code == 409
    edit = client.patch(
        f"{PLANS}/{plan_id}",
        json={"window_days": 5},
        headers={
            **bureau,
            "If-Match": client.get(f"{PLANS}/{plan_id}", headers=bureau).headers["ETag"],
        },
    )
    assert edit.status_code == 409 and edit.get_json()["code"] == "plan_status"

    # Before the period: the commitment and the inputs are public, the seed is not.
    summary = client.get(f"{PUBLIC}/{plan_id}")
    assert summary.status_code == 200
    assert (
        summary.get_json()["seed_commitment"] == commitment and summary.get_json()["seed"] is None
    )
    assert summary.get_json()["candidates"] == 1 and summary.get_json()["target"] == 1
    record = client.get(f"{PUBLIC}/{plan_id}/draw-record").get_json()
    assert record["seed"] is None and record["visits"] is None and record["result_digest"] is None
    assert record["inputs_digest"] == committed.get_json()["inputs_digest"]
    assert [c["school"] for c in record["inputs"]["candidates"]] == [str(world.member_a.id)]
    assert len(record["inputs"]["inspectors"]) == 3
    assert record["inputs"]["workdays"][0] == "2026-10-12"

    drawn = act(client, world, plan_id, "draw", beacon="福彩3D 2026-10-09: 5 8 2")
    assert drawn.status_code == 200, drawn.get_json()
    assert drawn.get_json()["status"] == "drawn" and drawn.get_json()["seed"] is None
    assert act(client, world, plan_id, "draw", beacon="again").status_code == 409
    checks = client.get(f"{PLANS}/{plan_id}/spot-checks", headers=bureau).get_json()["items"]
    assert len(checks) == 1
    assert checks[0]["school_id"] == str(world.member_a.id)
    assert [t["id"] for t in checks[0]["teachers"]] == [str(world.teacher_a.id)]
    assert len(checks[0]["inspectors"]) == 2
    for public_view in (f"{PUBLIC}/{plan_id}", f"{PUBLIC}/{plan_id}/draw-record"):
        answer = client.get(public_view).get_json()
        assert answer["seed"] is None and answer["result_digest"] is None
    assert client.get(f"{PUBLIC}/{plan_id}/verification").status_code == 409

    # Within the period the seed stays secret.
    today(PERIOD_END)
    early = act(client, world, plan_id, "reveal")
    assert early.status_code == 422 and early.get_json()["code"] == "period_not_over"

    today(AFTER)
    revealed = act(client, world, plan_id, "reveal")
    assert revealed.status_code == 200 and revealed.get_json()["status"] == "revealed"
    seed = revealed.get_json()["seed"]
    assert hashlib.sha256(seed.encode()).hexdigest() == commitment

    verification = client.get(f"{PUBLIC}/{plan_id}/verification")
    assert verification.status_code == 200 and verification.get_json()["verified"] is True
    record = client.get(f"{PUBLIC}/{plan_id}/draw-record").get_json()
    assert record["seed"] == seed and len(record["visits"]) == 1
    assert record["visits"][0]["window_start"] == checks[0]["window_start"]

    # Anyone re-checks the saved record from the command line.
    saved = tmp_path / "record.get_json()"
    saved.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    runner = app.test_cli_runner()
    verified = runner.invoke(args=["inspection", "verify-draw", str(saved)])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["verified"] is True
    record["visits"][0]["inspectors"] = sorted(record["inputs"]["inspectors"])[:2][::-1]
    record["visits"][0]["window_start"] = "2026-10-30"
    saved.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tampered = runner.invoke(args=["inspection", "verify-draw", str(saved)])
    assert tampered.exit_code == 1
    assert json.loads(tampered.output)["result_matches"] is False


def test_a_spot_check_changed_after_the_draw_fails_verification(
    client: FlaskClient, session: Session, world: factories.World, today: Any
) -> None:
    plan = drawn_plan(session, world)
    today(AFTER)
    plans.reveal(session, plan)
    check = spot_checks(session, plan)[0]
    # Another window than the drawn one (the seed, and so the window, is random).
    moved = date(2026, 10, 29) if check.window_start == date(2026, 10, 30) else date(2026, 10, 30)
    check.window_start = check.window_end = moved
    session.commit()
    outcome = client.get(f"{PUBLIC}/{plan.id}/verification").get_json()
    assert outcome["verified"] is False and outcome["result_matches"] is False


def test_cancel(
    client: FlaskClient, world: factories.World, inspectors: list[User], today: Any
) -> None:
    draft = create(client, world)
    assert act(client, world, draft["id"], "cancel").get_json()["status"] == "cancelled"
    assert client.get(f"{PUBLIC}/{draft['id']}").status_code == 404  # never announced
    committed = create(client, world)
    act(client, world, committed["id"], "commit")
    assert act(client, world, committed["id"], "cancel").status_code == 200
    public = client.get(f"{PUBLIC}/{committed['id']}")
    assert public.status_code == 200 and public.get_json()["status"] == "cancelled"
    assert act(client, world, committed["id"], "draw").status_code == 409
    listed = [p["id"] for p in client.get(PUBLIC).get_json()["items"]]
    assert committed["id"] in listed and draft["id"] not in listed


# --- scope ---------------------------------------------------------------------------------------


def test_only_the_bureau_of_the_region_reads_and_acts(
    client: FlaskClient, world: factories.World, inspectors: list[User]
) -> None:
    plan_id = create(client, world)["id"]
    assert client.get(f"{PLANS}/{plan_id}", headers=world.headers["bureau_b"]).status_code == 404
    assert act(client, world, plan_id, "cancel").status_code == 200  # bureau_a's own
    foreign = client.post(f"{PLANS}/{plan_id}/commit", headers=world.headers["bureau_b"])
    assert foreign.status_code == 404
    assert client.get(f"{PLANS}/{plan_id}", headers=world.headers["bureau_city"]).status_code == 200
    assert plan_id not in [
        p["id"] for p in client.get(PLANS, headers=world.headers["bureau_b"]).get_json()["items"]
    ]
    for role in ("teacher_a", "school_admin_a", "host_admin_a", "inspector_a"):
        headers = world.headers[role]
        assert client.get(PLANS, headers=headers).status_code == 403
        assert client.get(f"{PLANS}/{plan_id}", headers=headers).status_code == 403
        assert client.post(PLANS, json=body(), headers=headers).status_code == 403
        assert client.get(f"{PLANS}/{plan_id}/spot-checks", headers=headers).status_code == 403
        assert client.get(CONFLICTS, headers=headers).status_code == 403
    assert client.get(PLANS).status_code == 401
    outside = client.post(
        PLANS, json=body(region_id=str(world.county_b.id)), headers=world.headers["bureau_a"]
    )
    assert outside.status_code == 422 and outside.get_json()["code"] == "unknown_region"


# --- what the public sees ----------------------------------------------------------------------


def _visit_with_finding(
    session: Session, check: SpotCheck, teacher_id: uuid.UUID, finding: str
) -> str:
    inspector_id = session.scalars(
        sa.select(SpotCheckInspector.inspector_id).where(
            SpotCheckInspector.spot_check_id == check.id
        )
    ).first()
    assert inspector_id is not None
    visit = SpotCheckVisit(
        id=f"visit-{uuid.uuid4().hex[:12]}",
        spot_check_id=check.id,
        inspector_id=inspector_id,
        arrived_at=1_760_000_000_000,
        latitude=35.9612345,
        longitude=105.7312345,
        photo_ids=[f"photo-{uuid.uuid4().hex[:12]}"],
        findings=[{"teacher_id": str(teacher_id), "finding": finding, "note": ""}],
        received_at=utcnow(),
        client_digest="0" * 64,
    )
    session.add(visit)
    session.flush()
    session.add(
        SpotCheckFinding(
            visit_id=visit.id,
            spot_check_id=check.id,
            teacher_id=teacher_id,
            host_school_id=check.school_id,
            day=check.window_start,
            finding=finding,
            discrepancies=[{"code": "attendance_says_present", "reason": "…"}],
        )
    )
    session.flush()
    return visit.photo_ids[0]


def test_the_public_sees_counts_never_people(
    client: FlaskClient, session: Session, world: factories.World, today: Any
) -> None:
    world.teacher_a.name = "欧阳秘密"
    plan = drawn_plan(session, world, commit=False)
    check = spot_checks(session, plan)[0]
    photo_id = _visit_with_finding(session, check, world.teacher_a.id, "absent_without_leave")
    today(AFTER)
    plans.reveal(session, plan)
    session.commit()

    summary = client.get(f"{PUBLIC}/{plan.id}")
    assert summary.status_code == 200
    [school] = summary.get_json()["schools"]
    assert school["school_name"] == world.member_a.name
    assert school["spot_checks"] == 1 and school["teachers_checked"] == 1
    assert school["findings"] == {"absent_without_leave": 1}
    assert school["discrepancies"] == 1
    answers = [
        client.get(PUBLIC),
        summary,
        client.get(f"{PUBLIC}/{plan.id}/draw-record"),
        client.get(f"{PUBLIC}/{plan.id}/verification"),
    ]
    secrets = (
        "欧阳秘密",
        str(world.teacher_a.id),
        world.teacher_a.staff_no,
        "latitude",
        "longitude",
        "35.96",
        photo_id,
        *(str(u.id) for u in world.users.values()),
    )
    for answer in answers:
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
        for secret in secrets:
            assert secret not in text, (answer.request.path, secret)
    # The bureau sees its teacher by name.
    named = client.get(f"{PLANS}/{plan.id}/spot-checks", headers=world.headers["bureau_a"])
    assert "欧阳秘密" in named.get_data(as_text=True)


# --- recusals -----------------------------------------------------------------------------------


def test_a_recused_inspector_is_never_drawn_for_the_school(
    client: FlaskClient,
    session: Session,
    world: factories.World,
    inspectors: list[User],
    today: Any,
) -> None:
    recused = world.users["inspector_a"]
    created = client.post(
        CONFLICTS,
        json={
            "inspector_id": str(recused.id),
            "school_id": str(world.member_a.id),
            "kind": "own_school",
        },
        headers=world.headers["bureau_a"],
    )
    assert created.status_code == 201, created.get_json()
    listed = client.get(CONFLICTS, headers=world.headers["bureau_a"]).get_json()["items"]
    assert [c["id"] for c in listed] == [created.get_json()["id"]]
    assert client.get(CONFLICTS, headers=world.headers["bureau_b"]).get_json()["items"] == []
    for _ in range(4):  # without the recusal, inspector_a would be drawn 2 times in 3
        plan_id = create(client, world)["id"]
        assert act(client, world, plan_id, "commit").status_code == 200
        assert act(client, world, plan_id, "draw", beacon="b").status_code == 200
        [check] = client.get(
            f"{PLANS}/{plan_id}/spot-checks", headers=world.headers["bureau_a"]
        ).get_json()["items"]
        assert str(recused.id) not in [i["id"] for i in check["inspectors"]]
        frozen = session.get(InspectionPlan, uuid.UUID(plan_id))
        assert frozen is not None
        assert [
            plans.inspector_ref(TEST_SECRET, frozen.id, recused.id),
            str(world.member_a.id),
        ] in (frozen.inputs or {})["inputs"]["exclusions"]
        session.expire_all()


def test_too_few_inspectors_free_of_recusals_is_a_422(
    client: FlaskClient, world: factories.World, inspectors: list[User], today: Any
) -> None:
    for recused in inspectors[:2]:
        client.post(
            CONFLICTS,
            json={
                "inspector_id": str(recused.id),
                "teacher_id": str(world.teacher_a.id),
                "kind": "relative",
            },
            headers=world.headers["bureau_a"],
        )
    plan_id = create(client, world)["id"]
    act(client, world, plan_id, "commit")
    failed = act(client, world, plan_id, "draw", beacon="b")
    assert failed.status_code == 422 and failed.get_json()["code"] == "draw_impossible"
    assert "1 eligible inspectors, 2 needed" in failed.get_json()["message"]
    after = client.get(f"{PLANS}/{plan_id}", headers=world.headers["bureau_a"]).get_json()
    assert after["status"] == "committed"


def test_conflict_errors(
    client: FlaskClient, world: factories.World, inspectors: list[User]
) -> None:
    bureau = world.headers["bureau_a"]
    base = {
        "inspector_id": str(inspectors[1].id),
        "school_id": str(world.member_a.id),
        "kind": "own_school",
    }
    assert client.post(CONFLICTS, json=base, headers=bureau).status_code == 201
    again = client.post(CONFLICTS, json=base, headers=bureau)
    assert again.status_code == 409 and again.get_json()["code"] == "duplicate_conflict"
    cases = {
        "kind_mismatch": {**base, "kind": "relative"},
        "one_of": {**base, "teacher_id": str(world.teacher_a.id)},
        "unknown_inspector": {**base, "inspector_id": str(world.users["inspector_b"].id)},
        "unknown_school": {**base, "school_id": str(world.member_b.id)},
        "invalid_kind": {**base, "kind": "enemy"},
    }
    for code, data in cases.items():
        answer = client.post(CONFLICTS, json=data, headers=bureau)
        assert answer.status_code == 422 and answer.get_json()["code"] == code, (
            code,
            answer.get_json(),
        )
    conflict_id = client.get(CONFLICTS, headers=bureau).get_json()["items"][0]["id"]
    assert (
        client.delete(f"{CONFLICTS}/{conflict_id}", headers=world.headers["bureau_b"]).status_code
        == 404
    )
    assert client.delete(f"{CONFLICTS}/{conflict_id}", headers=bureau).status_code == 204
    assert client.get(CONFLICTS, headers=bureau).get_json()["items"] == []


# --- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"target_count": None, "target_ratio": 1.5}, "invalid_target"),
        ({"target_ratio": 0.5}, "invalid_target"),
        ({"target_count": 0}, "invalid_target"),
        ({"period_start": "2026-10-30", "period_end": "2026-10-12"}, "invalid_period"),
        ({"community_ids": [str(uuid.uuid4())]}, "unknown_community"),
        ({"inspectors_per_visit": 1}, "invalid_inspectors_per_visit"),
        ({"window_days": 0}, "invalid_window_days"),
        ({"window_days": 32}, "invalid_window_days"),
        ({"strata": "by_mood"}, "invalid_strata"),
        ({"name": "  "}, "invalid_name"),
        ({"period_start": "0001-01-02", "period_end": "0001-01-03"}, "invalid_period"),
        ({"period_end": "2027-11-01"}, "invalid_period"),
        ({"period_start": "not a date"}, "validation_error"),
        ({"target_ratio": "half"}, "validation_error"),
        ({"colour": "red"}, "validation_error"),
    ],
)
def test_bad_plans_are_422(
    client: FlaskClient, world: factories.World, overrides: dict[str, Any], code: str
) -> None:
    answer = client.post(PLANS, json=body(**overrides), headers=world.headers["bureau_a"])
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["code"] == code


def test_a_community_of_another_county_is_unknown(
    client: FlaskClient, world: factories.World
) -> None:
    foreign = client.post(
        PLANS,
        json=body(community_ids=[str(world.community_b.id)]),
        headers=world.headers["bureau_a"],
    )
    assert foreign.status_code == 422 and foreign.get_json()["code"] == "unknown_community"
    own = create(client, world, community_ids=[str(world.community_a.id)])
    assert own["community_ids"] == [str(world.community_a.id)]


def test_an_unpublished_calendar_year_is_a_422(
    client: FlaskClient, world: factories.World, inspectors: list[User], today: Any
) -> None:
    today(date(2027, 2, 1))
    plan_id = create(client, world, period_start="2027-03-01", period_end="2027-03-31")["id"]
    answer = act(client, world, plan_id, "commit")
    assert answer.status_code == 422 and answer.get_json()["code"] == "calendar_not_published"


def test_commit_after_the_period_has_no_workday_left(
    client: FlaskClient, world: factories.World, inspectors: list[User], today: Any
) -> None:
    today(AFTER)
    plan_id = create(client, world)["id"]
    answer = act(client, world, plan_id, "commit")
    assert answer.status_code == 422 and answer.get_json()["code"] == "no_workday_in_period"


# --- the frozen inputs ---------------------------------------------------------------------------


def test_candidates_workdays_targets_and_risk_weights(
    session: Session, world: factories.World, today: Any
) -> None:
    earlier = drawn_plan(session, world, commit=False)
    check = spot_checks(session, earlier)[0]
    _visit_with_finding(session, check, world.teacher_a.id, "absent")
    # Teacher A2 is seconded to member A too: two candidates in one community.
    factories.secondment(session, world.teacher_a2, world.member_a)
    today(date(2026, 11, 10))
    weighted = plans.create_plan(
        session,
        {
            "region_id": world.county_a.id,
            "name": "十一月",
            "period_start": date(2026, 11, 16),
            "period_end": date(2026, 12, 4),
            "target_ratio": 0.3,
            "strata": "community",
        },
    )
    plans.commit(session, weighted, TEST_SECRET)
    inputs = (weighted.inputs or {})["inputs"]
    refs = (weighted.inputs or {})["refs"]["teachers"]
    weight = {refs[c["ref"]]: c["weight"] for c in inputs["candidates"]}
    # Two teachers at member A: too few for a published weight not to point at one of
    # them, so both weigh 1 however their records differ.
    assert weight == {str(world.teacher_a.id): 1.0, str(world.teacher_a2.id): 1.0}
    assert {c["stratum"] for c in inputs["candidates"]} == {str(world.community_a.id)}
    assert inputs["target"] == 1  # ceil(0.3 × 2)
    assert inputs["workdays"][0] == "2026-11-16" and inputs["workdays"][-1] == "2026-12-04"
    assert "2026-11-21" not in inputs["workdays"]  # a Saturday
    assert weighted.inputs_digest == draw.inputs_digest(inputs)
    # Five at member A: now the record weighs (found absent once: 1 + 0.5).
    for _ in range(plans.MIN_WEIGHED - 2):
        factories.secondment(session, factories.teacher(session, world.core_a), world.member_a)
    crowded = plans.create_plan(
        session,
        {
            "region_id": world.county_a.id,
            "name": "十一月, five teachers",
            "period_start": date(2026, 11, 16),
            "period_end": date(2026, 12, 4),
            "target_count": 1,
        },
    )
    plans.commit(session, crowded, TEST_SECRET)
    crowded_refs = (crowded.inputs or {})["refs"]["teachers"]
    weights = {
        crowded_refs[c["ref"]]: c["weight"] for c in (crowded.inputs or {})["inputs"]["candidates"]
    }
    assert weights.pop(str(world.teacher_a.id)) == 1.5
    assert set(weights.values()) == {1.0} and len(weights) == plans.MIN_WEIGHED - 1
    unweighted = plans.create_plan(
        session,
        {
            "region_id": world.county_a.id,
            "name": "十一月, no weights",
            "period_start": date(2026, 11, 16),
            "period_end": date(2026, 12, 4),
            "target_count": 2,
            "risk_weighting": False,
        },
    )
    plans.commit(session, unweighted, TEST_SECRET)
    assert {c["weight"] for c in (unweighted.inputs or {})["inputs"]["candidates"]} == {1.0}


def test_a_school_too_few_inspectors_may_visit_is_refused_at_the_commit(
    client: FlaskClient, world: factories.World, inspectors: list[User], today: Any
) -> None:
    # Recused from the school itself: known before any draw, so nothing is committed to.
    for recused in inspectors[:2]:
        created = client.post(
            CONFLICTS,
            json={
                "inspector_id": str(recused.id),
                "school_id": str(world.member_a.id),
                "kind": "former_school",
            },
            headers=world.headers["bureau_a"],
        )
        assert created.status_code == 201, created.get_json()
    plan_id = create(client, world)["id"]
    refused = act(client, world, plan_id, "commit")
    assert refused.status_code == 422 and refused.get_json()["code"] == "draw_impossible"
    assert "fewer than 2 inspectors who may visit them" in refused.get_json()["message"]
    after = client.get(f"{PLANS}/{plan_id}", headers=world.headers["bureau_a"]).get_json()
    assert (after["status"], after["seed_commitment"]) == ("draft", None)


def test_a_draw_after_the_first_frozen_workday_is_refused(
    client: FlaskClient, world: factories.World, inspectors: list[User], today: Any
) -> None:
    plan_id = create(client, world)["id"]
    committed = act(client, world, plan_id, "commit")
    assert committed.status_code == 200, committed.get_json()
    today(PERIOD_START)  # a window could now lie in the past: draw sooner, or commit anew
    late = act(client, world, plan_id, "draw", beacon="b")
    assert (late.status_code, late.get_json()["code"]) == (422, "draw_too_late")
    assert (
        client.get(f"{PLANS}/{plan_id}/spot-checks", headers=world.headers["bureau_a"]).get_json()[
            "items"
        ]
        == []
    )
