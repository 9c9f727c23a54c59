"""001 §15: a community covers at most 9 schools (campuses included) and 15,000 students.

Checked when a community is set up, when a join is approved, and when a member school's
student count grows; a refused change leaves nothing behind.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.org.models import Community, CommunityMembership, MembershipChange, School
from tests import factories
from tests.factories import committed_world, fresh
from tests.org.support import (
    API,
    expect_error,
    iso,
    ok,
    patch_with_etag,
)

CAP = "001 §15"


def _community_payload(w: factories.World, core: School, members: list[School]) -> dict[str, Any]:
    return {
        "name": f"community {uuid.uuid4().hex[:8]}",
        "mode": "co_built",
        "region_id": str(w.county_a.id),
        "core_school_id": str(core.id),
        "term_start": iso(factories.TERM_START),
        "term_end": iso(factories.TERM_END),
        "member_school_ids": [str(m.id) for m in members],
    }


def _schools(session: Session, w: factories.World, students: list[int]) -> list[School]:
    schools = [factories.school(session, w.county_a, students=n) for n in students]
    session.commit()
    return schools


def _stored_community(session: Session, name: str) -> Community | None:
    return session.scalars(sa.select(Community).where(Community.name == name)).one_or_none()


@pytest.mark.parametrize(
    ("students", "status"),
    [
        pytest.param([100] * 9, 201, id="nine-schools-allowed"),
        pytest.param([100] * 10, 422, id="ten-schools-refused"),
        pytest.param([10_000, 5_000], 201, id="15000-students-allowed"),
        pytest.param([10_000, 5_001], 422, id="15001-students-refused"),
    ],
)
def test_creating_a_community_respects_the_caps(
    app: Flask, session: Session, client: FlaskClient, students: list[int], status: int
) -> None:
    w = committed_world(session, app)
    core, *members = _schools(session, w, students)
    payload = _community_payload(w, core, members)

    response = client.post(f"{API}/communities", json=payload, headers=w.headers["bureau_a"])

    if status == 201:
        body = ok(response, 201)
        assert len(body["memberships"]) == len(students)
        assert _stored_community(session, payload["name"]) is not None
    else:
        expect_error(response, 422, "rule_violation", rule=CAP)
        assert _stored_community(session, payload["name"]) is None
        assert not fresh(
            session,
            sa.select(MembershipChange).where(MembershipChange.school_id == core.id),
        )


@pytest.mark.parametrize(
    ("member_students", "joining_students"),
    [
        pytest.param([100] * 9, 100, id="tenth-school"),
        pytest.param([7_000, 7_000], 1_001, id="15001-students"),
    ],
)
def test_approving_a_join_beyond_a_cap_is_refused_and_stores_nothing(
    app: Flask,
    session: Session,
    client: FlaskClient,
    member_students: list[int],
    joining_students: int,
) -> None:
    w = committed_world(session, app)
    core, *members = _schools(session, w, member_students)
    full = factories.community(session, w.county_a, core, members)
    joining = factories.school(session, w.county_a, students=joining_students)
    session.commit()
    bureau = w.headers["bureau_a"]

    requested = client.post(
        f"{API}/communities/{full.id}/membership-changes",
        json={"school_id": str(joining.id), "action": "join", "effective_on": "2027-02-01"},
        headers=bureau,
    )
    change = ok(requested, 201)
    approved = client.post(
        f"{API}/communities/membership-changes/{change['id']}/approve", json={}, headers=bureau
    )

    expect_error(approved, 422, "rule_violation", rule=CAP)
    assert not fresh(
        session,
        sa.select(CommunityMembership).where(
            CommunityMembership.community_id == full.id,
            CommunityMembership.school_id == joining.id,
        ),
    )
    [stored] = fresh(
        session, sa.select(MembershipChange).where(MembershipChange.id == uuid.UUID(change["id"]))
    )
    assert stored.status == "requested" and stored.decided_at is None
    shown = ok(client.get(f"{API}/communities/{full.id}", headers=bureau))
    assert str(joining.id) not in {m["school_id"] for m in shown["memberships"]}


def test_growing_a_member_school_beyond_15000_students_is_refused_and_unchanged(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    # community_a: core_a 2,000 + member_a 400 students.
    w = committed_world(session, app)
    url = f"{API}/schools/{w.member_a.id}"
    admin = w.headers["host_admin_a"]  # member_a's own admin may edit its data

    refused = patch_with_etag(client, url, admin, {"student_count": 13_001})

    expect_error(refused, 422, "rule_violation", rule=CAP)
    assert ok(client.get(url, headers=admin))["student_count"] == 400
    # Exactly at the cap is allowed.
    allowed = patch_with_etag(client, url, admin, {"student_count": 13_000})
    assert ok(allowed)["student_count"] == 13_000


def test_a_member_with_an_approved_future_leave_still_counts_towards_the_cap(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    """Until the day it leaves, the school is a member: growing it must respect the cap."""
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    leave = ok(
        client.post(
            f"{API}/communities/{w.community_a.id}/membership-changes",
            json={"school_id": str(w.member_a.id), "action": "leave", "effective_on": "2028-09-01"},
            headers=bureau,
        ),
        201,
    )
    ok(
        client.post(
            f"{API}/communities/membership-changes/{leave['id']}/approve", json={}, headers=bureau
        )
    )

    refused = patch_with_etag(
        client, f"{API}/schools/{w.member_a.id}", bureau, {"student_count": 13_001}
    )

    expect_error(refused, 422, "rule_violation", rule=CAP)
