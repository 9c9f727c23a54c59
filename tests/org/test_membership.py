"""Joining or leaving a community is a dated request the bureau approves (001 §7, 004).

Approval writes or closes a membership period; periods and change records are history and
are never overwritten.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.org.models import CommunityMembership, MembershipChange, School
from tests import factories
from tests.factories import committed_world, fresh
from tests.org.support import (
    API,
    admin_of,
    expect_error,
    ok,
)

APPROVAL_RULE = "001 §7"


def _ask(
    client: FlaskClient,
    community_id: uuid.UUID,
    school_id: uuid.UUID,
    action: str,
    effective_on: str,
    headers: dict[str, str],
) -> TestResponse:
    return client.post(
        f"{API}/communities/{community_id}/membership-changes",
        json={
            "school_id": str(school_id),
            "action": action,
            "effective_on": effective_on,
            "reason": "county plan",
        },
        headers=headers,
    )


def _decide(
    client: FlaskClient, change_id: str, verdict: str, headers: dict[str, str], note: str = ""
) -> TestResponse:
    return client.post(
        f"{API}/communities/membership-changes/{change_id}/{verdict}",
        json={"note": note},
        headers=headers,
    )


def _periods(
    session: Session, community_id: uuid.UUID, school_id: uuid.UUID
) -> list[CommunityMembership]:
    return fresh(
        session,
        sa.select(CommunityMembership)
        .where(
            CommunityMembership.community_id == community_id,
            CommunityMembership.school_id == school_id,
        )
        .order_by(CommunityMembership.joined_on),
    )


def _shown_periods(
    client: FlaskClient, community_id: uuid.UUID, school_id: uuid.UUID, headers: dict[str, str]
) -> list[dict[str, Any]]:
    community = ok(client.get(f"{API}/communities/{community_id}", headers=headers))
    return [m for m in community["memberships"] if m["school_id"] == str(school_id)]


def test_a_school_admin_asks_to_join_for_their_own_school(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    other_admin = admin_of(session, app, w.other_a.id)

    response = _ask(client, w.community_a.id, w.other_a.id, "join", "2027-02-01", other_admin)

    change = ok(response, 201)
    assert change["status"] == "requested"
    assert change["action"] == "join" and change["effective_on"] == "2027-02-01"
    assert change["school_id"] == str(w.other_a.id)
    assert change["community_id"] == str(w.community_a.id)
    assert change["requested_by_id"] is not None and change["decided_at"] is None
    # A request is not a membership: nothing changes until the bureau approves.
    assert not _periods(session, w.community_a.id, w.other_a.id)


def test_a_school_admin_reaches_only_communities_of_their_own_region(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = _ask(
        client, w.community_a.id, w.core_b.id, "join", "2027-02-01", w.headers["school_admin_b"]
    )

    expect_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("school", "action"),
    [
        pytest.param("member_a", "leave", id="a-community-partner"),
        pytest.param("other_a", "join", id="a-school-out-of-sight"),
    ],
)
def test_a_school_admin_cannot_ask_for_another_school(
    app: Flask, session: Session, client: FlaskClient, school: str, action: str
) -> None:
    w = committed_world(session, app)
    target: School = getattr(w, school)

    response = _ask(
        client, w.community_a.id, target.id, action, "2027-09-01", w.headers["school_admin_a"]
    )

    expect_error(response, 422, "validation_error", field="school_id")
    assert not fresh(
        session,
        sa.select(MembershipChange).where(
            MembershipChange.school_id == target.id, MembershipChange.status == "requested"
        ),
    )


def test_join_then_leave_keeps_every_period_and_change_record(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    other_admin = admin_of(session, app, w.other_a.id)
    bureau = w.headers["bureau_a"]
    cid, sid = w.community_a.id, w.other_a.id

    join = ok(_ask(client, cid, sid, "join", "2027-02-01", other_admin), 201)
    approved = ok(_decide(client, join["id"], "approve", bureau, note="fits the plan"))
    assert approved["status"] == "approved"
    assert approved["decided_by_id"] == str(w.users["bureau_a"].id)
    assert approved["decided_at"] is not None and approved["decision_note"] == "fits the plan"
    [period] = _shown_periods(client, cid, sid, bureau)
    assert period["role"] == "member"
    assert period["joined_on"] == "2027-02-01" and period["left_on"] is None

    leave = ok(_ask(client, cid, sid, "leave", "2027-09-01", other_admin), 201)
    assert leave["status"] == "requested"
    ok(_decide(client, leave["id"], "approve", bureau))

    # The period is closed, not deleted; it still names the changes that opened and closed it.
    [period] = _shown_periods(client, cid, sid, bureau)
    assert period["joined_on"] == "2027-02-01" and period["left_on"] == "2027-09-01"
    [stored] = _periods(session, cid, sid)
    assert str(stored.joined_by_change_id) == join["id"]
    assert str(stored.left_by_change_id) == leave["id"]
    changes = ok(client.get(f"{API}/communities/{cid}/membership-changes", headers=bureau))
    mine = {c["id"]: c for c in changes["items"] if c["school_id"] == str(sid)}
    assert set(mine) == {join["id"], leave["id"]}
    assert {c["status"] for c in mine.values()} == {"approved"}
    # No longer a current member.
    current = ok(
        client.get(f"{API}/schools", query_string={"community_id": str(cid)}, headers=bureau)
    )
    assert str(sid) not in {s["id"] for s in current["items"]}

    # Joining again opens a second period; the first stays as it was.
    rejoin = ok(_ask(client, cid, sid, "join", "2028-02-01", other_admin), 201)
    ok(_decide(client, rejoin["id"], "approve", bureau))
    shown = _shown_periods(client, cid, sid, bureau)
    assert [(p["joined_on"], p["left_on"]) for p in shown] == [
        ("2027-02-01", "2027-09-01"),
        ("2028-02-01", None),
    ]


def test_the_core_school_cannot_leave(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)

    response = _ask(
        client, w.community_a.id, w.core_a.id, "leave", "2027-09-01", w.headers["school_admin_a"]
    )

    expect_error(response, 422, "rule_violation", rule=APPROVAL_RULE)
    [period] = _periods(session, w.community_a.id, w.core_a.id)
    assert period.role == "core" and period.left_on is None


def test_a_current_member_asking_to_join_again_is_a_conflict(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = _ask(
        client, w.community_a.id, w.member_a.id, "join", "2027-02-01", w.headers["host_admin_a"]
    )

    expect_error(response, 409, "conflict", field="school_id")


def test_after_the_first_request_is_decided_a_new_one_may_be_made(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    first = ok(_ask(client, w.community_a.id, w.other_a.id, "join", "2027-02-01", bureau), 201)
    ok(_decide(client, first["id"], "reject", bureau))

    again = ok(_ask(client, w.community_a.id, w.other_a.id, "join", "2027-03-01", bureau), 201)
    ok(_decide(client, again["id"], "approve", bureau))

    assert len(_periods(session, w.community_a.id, w.other_a.id)) == 1


def test_a_change_is_decided_once(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    change = ok(_ask(client, w.community_a.id, w.other_a.id, "join", "2027-02-01", bureau), 201)
    ok(_decide(client, change["id"], "approve", bureau))

    again = _decide(client, change["id"], "approve", bureau)
    reverse = _decide(client, change["id"], "reject", bureau)

    expect_error(again, 409, "conflict")
    expect_error(reverse, 409, "conflict")
    [period] = _periods(session, w.community_a.id, w.other_a.id)
    assert period.left_on is None
    [stored] = fresh(
        session, sa.select(MembershipChange).where(MembershipChange.id == uuid.UUID(change["id"]))
    )
    assert stored.status == "approved"


def test_a_rejected_join_stores_no_membership(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    change = ok(_ask(client, w.community_a.id, w.other_a.id, "join", "2027-02-01", bureau), 201)

    rejected = ok(_decide(client, change["id"], "reject", bureau, note="no capacity"))

    assert rejected["status"] == "rejected" and rejected["decision_note"] == "no capacity"
    assert rejected["decided_by_id"] == str(w.users["bureau_a"].id)
    assert not _periods(session, w.community_a.id, w.other_a.id)
    assert not _shown_periods(client, w.community_a.id, w.other_a.id, bureau)
    expect_error(_decide(client, change["id"], "approve", bureau), 409, "conflict")
    assert not _periods(session, w.community_a.id, w.other_a.id)


@pytest.mark.parametrize(
    "effective_on",
    [
        pytest.param("2026-08-31", id="day-before-term"),
        pytest.param(factories.TERM_END.isoformat(), id="term-end-exclusive"),
        pytest.param("2031-01-01", id="after-term"),
    ],
)
def test_effective_on_outside_the_term_is_refused(
    app: Flask, session: Session, client: FlaskClient, effective_on: str
) -> None:
    w = committed_world(session, app)

    response = _ask(
        client, w.community_a.id, w.other_a.id, "join", effective_on, w.headers["bureau_a"]
    )

    expect_error(response, 422, "validation_error", field="effective_on")


def test_leaving_on_or_before_the_join_day_is_refused(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = _ask(
        client,
        w.community_a.id,
        w.member_a.id,
        "leave",
        factories.TERM_START.isoformat(),
        w.headers["bureau_a"],
    )

    expect_error(response, 422, "validation_error", field="effective_on")


def test_rejoining_before_the_approved_leave_takes_effect_is_refused(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    """Periods of one school in one community never overlap."""
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    leave = ok(_ask(client, w.community_a.id, w.member_a.id, "leave", "2028-09-01", bureau), 201)
    ok(_decide(client, leave["id"], "approve", bureau))

    early = _ask(client, w.community_a.id, w.member_a.id, "join", "2028-02-01", bureau)

    expect_error(early, 422, "validation_error", field="effective_on")
    on_the_day = _ask(client, w.community_a.id, w.member_a.id, "join", "2028-09-01", bureau)
    ok(_decide(client, ok(on_the_day, 201)["id"], "approve", bureau))
    periods = _periods(session, w.community_a.id, w.member_a.id)
    assert [(p.joined_on.isoformat(), p.left_on) for p in periods][1] == ("2028-09-01", None)


def test_a_bureau_of_another_county_cannot_decide(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    change = ok(
        _ask(client, w.community_a.id, w.other_a.id, "join", "2027-02-01", w.headers["bureau_a"]),
        201,
    )

    for verdict in ("approve", "reject"):
        expect_error(
            _decide(client, change["id"], verdict, w.headers["bureau_b"]), 404, "not_found"
        )

    [stored] = fresh(
        session, sa.select(MembershipChange).where(MembershipChange.id == uuid.UUID(change["id"]))
    )
    assert stored.status == "requested" and stored.decided_by_id is None
    assert not _periods(session, w.community_a.id, w.other_a.id)


def test_second_open_request_for_the_same_change_is_409(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    url = f"/api/v1/communities/{w.community_a.id}/membership-changes"
    body = {"school_id": str(w.other_a.id), "action": "join", "effective_on": "2026-12-01"}
    first = client.post(url, json=body, headers=w.headers["bureau_a"])
    assert first.status_code == 201, first.json
    second = client.post(url, json=body, headers=w.headers["bureau_a"])
    assert second.status_code == 409
    assert second.json is not None and "waiting" in second.json["message"]


def test_listing_changes_of_an_unreachable_community_is_404(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    url = f"/api/v1/communities/{w.community_b.id}/membership-changes"
    assert client.get(url, headers=w.headers["bureau_a"]).status_code == 404
    assert client.get(url, headers=w.headers["bureau_b"]).status_code == 200
