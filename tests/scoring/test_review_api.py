"""The reviewer's side of evidence: the queue, verify and reject against a revision, the
trail — for community evidence and class report forms alike — and who may review.

"Today" is fixed at Monday 2026-11-16 (China time).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend import clock, review
from backend.classes.models import ClassSession
from backend.db import utcnow
from backend.scoring.models import EvidenceItem
from tests.factories import World
from tests.scoring.evidence_support import filed_evidence

EVIDENCE = "/api/v1/evidence"
REVIEWS = "/api/v1/reviews"
QUEUE = f"{REVIEWS}/queue"
TODAY = date(2026, 11, 16)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def ok(response: TestResponse, status: int = 200) -> Any:
    data = response.get_json()
    assert response.status_code == status, data
    return data


def refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    data: dict[str, Any] = response.get_json()
    assert response.status_code == status, data
    assert data["code"] == code and data["message"], data
    return data


def decide(
    client: FlaskClient,
    world: World,
    path: str,
    action: str,
    *,
    revision: int,
    reason: str = "",
    persona: str = "bureau_a",
) -> TestResponse:
    return client.post(
        f"{REVIEWS}/{path}/{action}",
        json={"revision": revision, "reason": reason},
        headers=world.headers[persona],
    )


def queue(client: FlaskClient, world: World, persona: str = "bureau_a", **query: str) -> Any:
    params = "&".join(f"{k}={v}" for k, v in {"kind": "evidence", **query}.items())
    return client.get(f"{QUEUE}?{params}", headers=world.headers[persona])


def queued_ids(client: FlaskClient, world: World, persona: str = "bureau_a", **q: str) -> list[str]:
    return [i["id"] for i in ok(queue(client, world, persona, **q))["items"]]


def file(client: FlaskClient, world: World, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "community_id": str(world.community_a.id),
        "kind": "research_offline",
        "day": "2026-10-22",
        "title": "线下联合教研：小学数学",
        "school_ids": [str(world.core_a.id), str(world.member_a.id)],
        "photo_ids": ["p-1"],
    }
    data.update(changes)
    created: dict[str, Any] = ok(
        client.post(EVIDENCE, json=data, headers=world.headers["school_admin_a"]), 201
    )
    return created


def class_session(
    session: Session, world: World, *, complete: bool, community: str = "a", hours_ago: int = 0
) -> ClassSession:
    """A class report form as a phone's sync would leave it, waiting for review."""
    school = world.core_a if community == "a" else world.core_b
    submitter = world.users["teacher_a" if community == "a" else "teacher_b"]
    row = ClassSession(
        id=uuid.uuid4().hex,
        community_id=(world.community_a if community == "a" else world.community_b).id,
        day=date(2026, 11, 2),
        subject="数学",
        topic="分数的初步认识",
        lead_school_id=school.id,
        duration_minutes=40,
        connection_quality="good",
        submitted_by_id=submitter.id,
        received_at=utcnow() - timedelta(hours=hours_ago),
        complete=complete,
        missing=[] if complete else ["接收班级的照片"],
        client_digest="0" * 64,
    )
    session.add(row)
    session.flush()
    review.submitted(session, "class_session", row, submitter.id, {"topic": row.topic})
    session.commit()
    return row


# --- the life of an item -------------------------------------------------------------------


def test_reject_fix_resubmit_verify_and_the_trail(client: FlaskClient, world: World) -> None:
    item = file(client, world)
    path = f"evidence/{item['id']}"
    assert queued_ids(client, world) == [item["id"]]

    refused(decide(client, world, path, "reject", revision=1, reason="  "), 422, "reason_required")
    rejected = ok(decide(client, world, path, "reject", revision=1, reason="缺少活动照片和签到表"))
    assert rejected["review_status"] == "rejected" and rejected["counts"] is False
    assert rejected["review_reason"] == "缺少活动照片和签到表"
    assert rejected["reviewed_by_id"] == str(world.users["bureau_a"].id)
    assert queued_ids(client, world) == []

    # The submitter sees why, fixes the item, and it is back in the queue as revision 2.
    url = f"{EVIDENCE}/{item['id']}"
    headers = world.headers["school_admin_a"]
    read = client.get(url, headers=headers)
    assert read.json["review_reason"] == "缺少活动照片和签到表"  # type: ignore[index]
    fixed = client.patch(
        url,
        json={"photo_ids": ["p-1", "p-2", "sign-in-sheet"]},
        headers={**headers, "If-Match": read.headers["ETag"]},
    )
    assert ok(fixed)["review_status"] == "submitted" and fixed.json["revision"] == 2  # type: ignore[index]
    assert queued_ids(client, world) == [item["id"]]

    # A decision on what the reviewer saw before the fix is stale.
    stale = refused(decide(client, world, path, "verify", revision=1), 409, "stale_revision")
    assert "revision 2" in stale["message"]
    verified = ok(decide(client, world, path, "verify", revision=2, persona="bureau_city"))
    assert verified["review_status"] == "verified" and verified["counts"] is True
    assert verified["revision"] == 2 and verified["kind"] == "evidence"
    assert verified["evidence_kind"] == "research_offline"
    assert queued_ids(client, world) == []

    names = {k: u.username for k, u in world.users.items()}
    for persona, trail_url in [
        ("bureau_a", f"{REVIEWS}/{path}/history"),
        ("school_admin_a", f"{url}/history"),
    ]:
        trail = ok(client.get(trail_url, headers=world.headers[persona]))["items"]
        steps = [(e["action"], e["revision"], e["actor"], e["reason"]) for e in trail]
        assert steps == [
            ("submitted", 1, names["school_admin_a"], ""),
            ("rejected", 1, names["bureau_a"], "缺少活动照片和签到表"),
            ("resubmitted", 2, names["school_admin_a"], ""),
            ("verified", 2, names["bureau_city"], ""),
        ]
        assert trail[2]["snapshot"]["photo_ids"] == ["p-1", "p-2", "sign-in-sheet"]
        assert trail[0]["snapshot"]["photo_ids"] == ["p-1"]


def test_a_repeated_decision_is_one_event(client: FlaskClient, world: World) -> None:
    item = file(client, world)
    path = f"evidence/{item['id']}"
    ok(decide(client, world, path, "verify", revision=1))
    ok(decide(client, world, path, "verify", revision=1))
    trail = ok(client.get(f"{REVIEWS}/{path}/history", headers=world.headers["bureau_a"]))
    assert [e["action"] for e in trail["items"]] == ["submitted", "verified"]
    # The reviewer may still change their mind on the same revision.
    changed = ok(decide(client, world, path, "reject", revision=1, reason="照片与活动不符"))
    assert changed["review_status"] == "rejected"


def test_decisions_are_validated(client: FlaskClient, world: World) -> None:
    path = f"evidence/{file(client, world)['id']}"
    headers = world.headers["bureau_a"]
    missing = client.post(f"{REVIEWS}/{path}/verify", json={}, headers=headers)
    assert "revision" in refused(missing, 422, "validation_error")["errors"]["json"]
    zero = client.post(f"{REVIEWS}/{path}/verify", json={"revision": 0}, headers=headers)
    refused(zero, 422, "validation_error")
    long = decide(client, world, path, "reject", revision=1, reason="x" * 1001)
    refused(long, 422, "validation_error")
    refused(decide(client, world, "evidence/nope", "verify", revision=1), 404, "not_found")
    assert client.post(f"{REVIEWS}/teacher/x/verify", json={}, headers=headers).status_code == 404
    refused(client.get(f"{QUEUE}?kind=teacher", headers=headers), 422, "validation_error")
    refused(client.get(QUEUE, headers=headers), 422, "validation_error")


# --- who reviews ------------------------------------------------------------------------------


def test_only_the_bureau_above_reviews(client: FlaskClient, world: World) -> None:
    item = file(client, world)
    path = f"evidence/{item['id']}"
    for persona in ("bureau_b",):
        refused(
            decide(client, world, path, "verify", revision=1, persona=persona), 404, "not_found"
        )
        refused(
            client.get(f"{REVIEWS}/{path}/history", headers=world.headers[persona]),
            404,
            "not_found",
        )
        assert queued_ids(client, world, persona) == []
        assert queued_ids(client, world, persona, community_id=str(world.community_a.id)) == []
    for persona in ("school_admin_a", "host_admin_a", "teacher_a", "inspector_a"):
        refused(
            decide(client, world, path, "verify", revision=1, persona=persona), 403, "forbidden"
        )
        refused(queue(client, world, persona), 403, "forbidden")
        refused(queue(client, world, persona, kind="class_session"), 403, "forbidden")
    assert queued_ids(client, world, "bureau_city") == [item["id"]]
    assert ok(queue(client, world, "bureau_b", kind="class_session"))["items"] == []


def test_the_queue_serves_the_longest_waiting_first(
    client: FlaskClient, session: Session, world: World
) -> None:
    ids = [file(client, world, title=f"第{n}次教研")["id"] for n in range(3)]
    # Spread the filings in time (requests in one test land within microseconds).
    for hours, item_id in zip((30, 20, 10), ids, strict=True):
        row = session.get(EvidenceItem, item_id)
        assert row is not None
        row.submitted_at = utcnow() - timedelta(hours=hours)
    theirs = filed_evidence(
        session,
        world,
        "joint_activity",
        date(2026, 10, 2),
        submitter="school_admin_b",
        community_id=world.community_b.id,
    )
    session.commit()
    first = ok(queue(client, world, "bureau_city", limit="2"))
    assert [i["id"] for i in first["items"]] == ids[:2]
    rest = ok(queue(client, world, "bureau_city", limit="2", cursor=first["next_cursor"]))
    assert [i["id"] for i in rest["items"]] == [ids[2], theirs.id]
    assert rest["next_cursor"] is None
    only_a = queued_ids(client, world, "bureau_city", community_id=str(world.community_a.id))
    assert only_a == ids
    assert queued_ids(client, world, "bureau_b") == [theirs.id]


def test_withdrawn_items_leave_the_queue(client: FlaskClient, world: World) -> None:
    item = file(client, world)
    url = f"{EVIDENCE}/{item['id']}"
    headers = world.headers["school_admin_a"]
    etag = client.get(url, headers=headers).headers["ETag"]
    assert client.delete(url, headers={**headers, "If-Match": etag}).status_code == 204
    assert queued_ids(client, world) == []
    path = f"evidence/{item['id']}"
    refused(decide(client, world, path, "verify", revision=1), 404, "not_found")
    trail = ok(client.get(f"{REVIEWS}/{path}/history", headers=world.headers["bureau_a"]))
    assert [e["action"] for e in trail["items"]] == ["submitted", "withdrawn"]


# --- class sessions through the same endpoints ------------------------------------------------


def test_class_sessions_are_reviewed_the_same_way(
    client: FlaskClient, session: Session, world: World
) -> None:
    incomplete = class_session(session, world, complete=False, hours_ago=5)
    whole = class_session(session, world, complete=True, hours_ago=1)
    foreign = class_session(session, world, complete=True, community="b")
    listed = ok(queue(client, world, kind="class_session"))["items"]
    assert [i["id"] for i in listed] == [incomplete.id, whole.id]
    assert listed[0]["complete"] is False and listed[0]["missing"] == ["接收班级的照片"]
    assert listed[0]["title"] == "数学 · 分数的初步认识" and listed[0]["evidence_kind"] is None

    # Verifying an incomplete form is allowed, but it does not count.
    short = ok(decide(client, world, f"class_session/{incomplete.id}", "verify", revision=1))
    assert short["review_status"] == "verified" and short["counts"] is False
    counted = ok(decide(client, world, f"class_session/{whole.id}", "verify", revision=1))
    assert counted["counts"] is True
    assert ok(queue(client, world, kind="class_session"))["items"] == []

    refused(
        decide(client, world, f"class_session/{whole.id}", "reject", revision=1),
        422,
        "reason_required",
    )
    rejected = ok(
        decide(client, world, f"class_session/{whole.id}", "reject", revision=1, reason="照片模糊")
    )
    assert rejected["review_status"] == "rejected" and rejected["counts"] is False
    trail = ok(
        client.get(f"{REVIEWS}/class_session/{whole.id}/history", headers=world.headers["bureau_a"])
    )["items"]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("submitted", world.users["teacher_a"].username),
        ("verified", world.users["bureau_a"].username),
        ("rejected", world.users["bureau_a"].username),
    ]

    # Scope is the class session policy's: another county's bureau and non-reviewers.
    path = f"class_session/{foreign.id}"
    refused(decide(client, world, path, "verify", revision=1), 404, "not_found")
    refused(
        decide(client, world, path, "verify", revision=1, persona="school_admin_b"),
        403,
        "forbidden",
    )
    refused(
        decide(client, world, path, "verify", revision=1, persona="teacher_b"), 403, "forbidden"
    )
    assert ok(decide(client, world, path, "verify", revision=1, persona="bureau_b"))["counts"]
    # An evidence id is not a class session's.
    item = file(client, world)
    refused(
        decide(client, world, f"class_session/{item['id']}", "verify", revision=1), 404, "not_found"
    )


def test_withdrawn_class_sessions_leave_the_queue(
    client: FlaskClient, session: Session, world: World
) -> None:
    row = class_session(session, world, complete=True)
    assert queued_ids(client, world, kind="class_session") == [row.id]
    row.deleted_at = utcnow()
    review.withdrawn(session, "class_session", row, world.users["teacher_a"].id)
    session.commit()
    assert queued_ids(client, world, kind="class_session") == []
    refused(
        decide(client, world, f"class_session/{row.id}", "verify", revision=1), 404, "not_found"
    )
