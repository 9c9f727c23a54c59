"""Teachers: unique staff numbers, who registers them, and a seconded teacher's fixed post."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.exchange.models import Teacher
from backend.org.models import School
from tests import factories
from tests.factories import committed_world, fresh
from tests.org.support import (
    API,
    expect_error,
    ok,
    patch_with_etag,
)

RULE = "003 §四(三)"


def _teacher(home: School, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "staff_no": factories.next_code("N"),
        "name": "李老师",
        "home_school_id": str(home.id),
        "subjects": ["语文"],
    }
    payload.update(changes)
    return payload


def _home_of(session: Session, teacher: Teacher) -> Any:
    [stored] = fresh(session, sa.select(Teacher).where(Teacher.id == teacher.id))
    return stored.home_school_id


def test_a_duplicate_staff_no_is_a_conflict(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    # Staff numbers are unique across counties, not only within one.
    response = client.post(
        f"{API}/teachers",
        json=_teacher(w.core_a, staff_no=w.teacher_b.staff_no),
        headers=w.headers["bureau_a"],
    )

    expect_error(response, 409, "conflict", field="staff_no")
    assert (
        len(fresh(session, sa.select(Teacher).where(Teacher.staff_no == w.teacher_b.staff_no))) == 1
    )


def test_a_school_admin_registers_teachers_of_their_own_school(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.post(
        f"{API}/teachers", json=_teacher(w.core_a), headers=w.headers["school_admin_a"]
    )

    body = ok(response, 201)
    assert body["home_school_id"] == str(w.core_a.id) and body["subjects"] == ["语文"]


@pytest.mark.parametrize("school", ["member_a", "core_b"])
def test_a_school_admin_cannot_register_teachers_of_another_school(
    app: Flask, session: Session, client: FlaskClient, school: str
) -> None:
    w = committed_world(session, app)
    foreign: School = getattr(w, school)  # a community partner, another county
    payload = _teacher(foreign)

    response = client.post(f"{API}/teachers", json=payload, headers=w.headers["school_admin_a"])

    expect_error(response, 422, "validation_error", field="home_school_id")
    assert not fresh(session, sa.select(Teacher).where(Teacher.staff_no == payload["staff_no"]))


def test_a_currently_seconded_teacher_keeps_their_home_school(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)  # teacher_a: seconded 2026-09-01 .. 2027-07-15

    response = patch_with_etag(
        client,
        f"{API}/teachers/{w.teacher_a.id}",
        w.headers["bureau_a"],
        {"home_school_id": str(w.other_a.id)},
    )

    expect_error(response, 422, "rule_violation", rule=RULE)
    assert _home_of(session, w.teacher_a) == w.core_a.id


def test_a_teacher_with_a_secondment_to_come_keeps_their_home_school(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    factories.secondment(
        session, w.teacher_a2, w.member_a, start_on=date(2027, 9, 1), end_on=date(2028, 7, 15)
    )
    session.commit()

    response = patch_with_etag(
        client,
        f"{API}/teachers/{w.teacher_a2.id}",
        w.headers["bureau_a"],
        {"home_school_id": str(w.other_a.id)},
    )

    expect_error(response, 422, "rule_violation", rule=RULE)
    assert _home_of(session, w.teacher_a2) == w.core_a.id


def test_a_teacher_not_seconded_can_move(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)

    response = patch_with_etag(
        client,
        f"{API}/teachers/{w.teacher_a2.id}",
        w.headers["bureau_a"],
        {"home_school_id": str(w.other_a.id)},
    )

    assert ok(response)["home_school_id"] == str(w.other_a.id)
    assert _home_of(session, w.teacher_a2) == w.other_a.id


def test_a_teacher_whose_secondment_has_ended_can_move(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    # A past secondment, from before the community existed (hence the exception).
    factories.secondment(
        session,
        w.teacher_a2,
        w.member_a,
        start_on=date(2024, 9, 1),
        end_on=date(2025, 7, 15),
        cross_community_exception=True,
        exception_reason="pilot year",
    )
    session.commit()

    response = patch_with_etag(
        client,
        f"{API}/teachers/{w.teacher_a2.id}",
        w.headers["bureau_a"],
        {"home_school_id": str(w.other_a.id)},
    )

    assert ok(response)["home_school_id"] == str(w.other_a.id)


def test_a_teacher_whose_secondment_was_cancelled_can_move(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    ok(
        client.post(
            f"{API}/secondments/{w.secondment_a.id}/cancel",
            json={"reason": "returned home"},
            headers=bureau,
        )
    )

    response = patch_with_etag(
        client, f"{API}/teachers/{w.teacher_a.id}", bureau, {"home_school_id": str(w.other_a.id)}
    )

    assert ok(response)["home_school_id"] == str(w.other_a.id)


def test_patching_a_teacher_needs_the_current_etag(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    url = f"{API}/teachers/{w.teacher_a2.id}"

    missing = client.patch(url, json={"name": "王老师"}, headers=w.headers["bureau_a"])
    stale = client.patch(
        url, json={"name": "王老师"}, headers={**w.headers["bureau_a"], "If-Match": '"stale"'}
    )

    expect_error(missing, 428, "precondition_required")
    expect_error(stale, 412, "precondition_failed")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"staff_no": "has space"}, "staff_no", id="bad-staff-no"),
        pytest.param({"phone": "call me"}, "phone", id="bad-phone"),
        pytest.param({"subjects": ["x"] * 11}, "subjects", id="too-many-subjects"),
        pytest.param({"salary": 5000}, "salary", id="unknown-field"),
    ],
)
def test_invalid_teacher_input_is_422_naming_the_field(
    app: Flask, session: Session, client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    w = committed_world(session, app)

    response = client.post(
        f"{API}/teachers", json=_teacher(w.core_a, **changes), headers=w.headers["bureau_a"]
    )

    expect_error(response, 422, "validation_error", field=field, location="json")
