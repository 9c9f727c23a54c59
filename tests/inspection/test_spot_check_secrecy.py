"""A spot check is secret until the inspectors arrive: the inspected school and its
teachers learn nothing of it before (no sync table, no API answer, not even a 403 that
differs from a 404); once visited, the host school sees it, the teacher never does (what
a visit found about the teacher shows on their own day afterwards: test_crosscheck)."""

from __future__ import annotations

import json
import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.inspection.models import SpotCheck
from sync.protocol import SCHEMA_VERSION_MAX
from tests.factories import World
from tests.inspection.visit_support import findings, phone_of, push, spot_check, visit
from tests.sync.phone import Phone

API = "/api/v1/inspection"
VISIT_ID = "visit-secret-01"


@pytest.fixture
def check(session: Session, world: World) -> SpotCheck:
    return spot_check(session, world)


def teacher_pull_mentions(phone: Phone, *needles: str) -> bool:
    """A full pull of every table at the newest schema version: does any of it mention
    the spot check or its visit?"""
    phone.schema_version = SCHEMA_VERSION_MAX
    phone.last_pulled_at = None
    body = phone.pull()
    assert {"spot_checks", "spot_check_visits"} <= set(body["changes"])
    assert body["changes"]["spot_checks"]["updated"] == []
    assert body["changes"]["spot_check_visits"]["updated"] == []
    text = json.dumps(body, ensure_ascii=False)
    return any(n in text for n in needles)


def listed(client: FlaskClient, world: World, persona: str) -> list[str]:
    response = client.get(f"{API}/spot-checks", headers=world.headers[persona])
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def status(client: FlaskClient, world: World, persona: str, path: str) -> int:
    return client.get(f"{API}{path}", headers=world.headers[persona]).status_code


def visit_it(client: FlaskClient, session: Session, world: World, check: SpotCheck) -> None:
    inspector = phone_of(client, session, world, world.users["inspector_a"])
    arrived = int(time.time() * 1000) - 60_000
    record = visit(
        VISIT_ID, check, arrived, findings=findings((world.teacher_a.id, "present_teaching"))
    )
    assert push(inspector, created=[record])["applied"] == 1


def test_before_the_visit_only_the_inspectors_and_the_bureau_know(
    client: FlaskClient, session: Session, world: World, check: SpotCheck, phone: Phone
) -> None:
    one = f"/spot-checks/{check.id}"
    assert not teacher_pull_mentions(phone, str(check.id))
    # The teacher may never read spot checks: the same 403 whether one exists or not.
    assert status(client, world, "teacher_a", "/spot-checks") == 403
    assert status(client, world, "teacher_a", one) == 403
    # The host school: nothing listed, and the spot check is not found.
    assert listed(client, world, "host_admin_a") == []
    assert status(client, world, "host_admin_a", one) == 404
    assert status(client, world, "school_admin_a", one) == 404
    # Its inspectors and the bureau above the school see it; others do not.
    assert listed(client, world, "inspector_a") == [str(check.id)]
    assert listed(client, world, "bureau_a") == [str(check.id)]
    assert status(client, world, "bureau_a", one) == 200
    assert listed(client, world, "inspector_b") == []
    assert status(client, world, "inspector_b", one) == 404
    assert status(client, world, "bureau_b", one) == 404
    # Another inspector's phone never pulls it.
    other = phone_of(client, session, world, world.users["inspector_b"])
    assert other.pull()["changes"]["spot_checks"]["updated"] == []


def test_after_the_visit_the_host_school_sees_it_and_the_teacher_still_does_not(
    client: FlaskClient, session: Session, world: World, check: SpotCheck, phone: Phone
) -> None:
    visit_it(client, session, world, check)
    one = f"/spot-checks/{check.id}"

    assert listed(client, world, "host_admin_a") == [str(check.id)]
    detail = client.get(f"{API}{one}", headers=world.headers["host_admin_a"]).get_json()
    assert detail["status"] == "visited" and detail["school_id"] == str(world.member_a.id)
    assert [t["teacher_id"] for t in detail["teachers"]] == [str(world.teacher_a.id)]
    [seen] = detail["visits"]
    assert seen["id"] == VISIT_ID
    assert [(f["teacher_id"], f["finding"]) for f in seen["findings"]] == [
        (str(world.teacher_a.id), "present_teaching")
    ]
    assert status(client, world, "host_admin_a", f"/visits/{VISIT_ID}") == 200
    # Another school (even the teacher's home school) still sees nothing.
    assert status(client, world, "school_admin_a", one) == 404
    assert status(client, world, "school_admin_a", f"/visits/{VISIT_ID}") == 404
    assert listed(client, world, "school_admin_a") == []

    # The teacher: still nothing, anywhere.
    assert status(client, world, "teacher_a", "/spot-checks") == 403
    assert status(client, world, "teacher_a", one) == 403
    assert status(client, world, "teacher_a", f"/visits/{VISIT_ID}") == 403
    assert not teacher_pull_mentions(phone, str(check.id), VISIT_ID)


def test_the_visit_api_shows_the_bureau_the_findings_with_their_discrepancies(
    client: FlaskClient, session: Session, world: World, check: SpotCheck
) -> None:
    visit_it(client, session, world, check)
    body = client.get(f"{API}/visits/{VISIT_ID}", headers=world.headers["bureau_a"]).get_json()
    assert body["spot_check_id"] == str(check.id)
    assert body["inspector_id"] == str(world.users["inspector_a"].id)
    [finding] = body["findings"]
    # Teacher A never checked in: found teaching without a check-in.
    assert [d["code"] for d in finding["discrepancies"]] == ["present_without_check_in"]
    assert body["status"] == "flagged" and body["location"] == "inside"
    assert status(client, world, "bureau_b", f"/visits/{VISIT_ID}") == 404
    assert status(client, world, "inspector_b", f"/visits/{VISIT_ID}") == 404
