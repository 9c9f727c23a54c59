"""Schema version 4: community evidence filed offline on a school admin's phone, judged by
the same rules as the API; the review coming back, fixed and resubmitted as a new revision;
quarantine; withdrawal; who pulls what."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import clock, review
from backend.scoring import evidence
from backend.scoring.models import EvidenceItem
from sync.evidence_tables import window_start
from tests.classes.support import YESTERDAY, class_phone, push
from tests.factories import World, fresh
from tests.scoring.evidence_support import filed_evidence
from tests.sync.phone import Phone

TABLE = "evidence_items"
APPLIED = {"ok": True, "applied": 1, "unchanged": 0, "ignored": 0, "quarantined": 0}


@pytest.fixture
def admin(client: FlaskClient, session: Session, world: World) -> Phone:
    """School admin A's phone (core A, in community A)."""
    return class_phone(client, session, world, "school_admin_a")


def item(record_id: str, world: World, **values: Any) -> dict[str, Any]:
    """A development seminar of community A as the phone records it (lists as JSON text)."""
    record: dict[str, Any] = {
        "id": record_id,
        "community_id": str(world.community_a.id),
        "kind": "development_seminar",
        "day": YESTERDAY,
        "title": "共谋发展专题研讨",
        "description": "两校校长研讨共同体三年规划。",
        "subject": None,
        "url": None,
        "school_ids": json.dumps([str(world.core_a.id), str(world.member_a.id)]),
        "people": json.dumps(["张校长", "刘校长"], ensure_ascii=False),
        "photo_ids": json.dumps(["ev-photo-1"]),
        "details": "{}",
    }
    record.update(values)
    return record


def pushed(phone: Phone, **ops: list[Any]) -> dict[str, Any]:
    return push(phone, TABLE, **ops)


def pulled(phone: Phone) -> dict[str, Any]:
    changes: dict[str, Any] = phone.pull()["changes"][TABLE]
    return changes


def stored(session: Session, record_id: str) -> EvidenceItem:
    [row] = fresh(session, sa.select(EvidenceItem).where(EvidenceItem.id == record_id))
    return row


def actions(session: Session, record_id: str) -> list[str]:
    return [e.action for e in review.history(session, evidence.KIND, record_id)]


def synced(phone: Phone) -> dict[str, Any]:
    """One synchronize(); the push's counters."""
    response = phone.sync()
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def flag_code(echo: dict[str, Any]) -> str:
    code: str = json.loads(echo["flags"])[0]["code"]
    return code


def test_filed_offline_rejected_fixed_and_resubmitted_as_revision_2(
    session: Session, world: World, admin: Phone
) -> None:
    admin.create(TABLE, item("ev-00000001", world))
    assert admin.sync().json == APPLIED
    row = stored(session, "ev-00000001")
    assert row.submitted_by_id == world.users["school_admin_a"].id
    assert (row.review_status, row.revision, row.school_ids) == (
        "submitted",
        1,
        [str(world.core_a.id), str(world.member_a.id)],
    )
    assert actions(session, row.id) == ["submitted"]
    assert review.history(session, evidence.KIND, row.id)[0].snapshot == evidence.snapshot(row)

    # The bureau rejects it; the reason reaches the phone.
    review.decide(
        session,
        evidence.KIND,
        row,
        world.users["bureau_a"].id,
        verified=False,
        reason="缺少研讨照片",
        revision=1,
    )
    session.commit()
    [back] = pulled(admin)["updated"]
    assert (back["review_status"], back["review_reason"], back["revision"]) == (
        "rejected",
        "缺少研讨照片",
        1,
    )
    assert (back["status"], back["flags"], back["kind"]) == ("accepted", "[]", row.kind)
    assert json.loads(back["people"]) == ["张校长", "刘校长"]

    # Fixed on the phone: a new revision, to be reviewed again.
    admin.update(TABLE, "ev-00000001", photo_ids='["ev-photo-1", "ev-photo-2"]')
    assert admin.sync().json == APPLIED
    row = stored(session, "ev-00000001")
    assert (row.review_status, row.revision, row.review_reason) == ("submitted", 2, "")
    assert row.photo_ids == ["ev-photo-1", "ev-photo-2"]
    assert actions(session, row.id) == ["submitted", "rejected", "resubmitted"]
    [back] = pulled(admin)["updated"]
    assert (back["review_status"], back["revision"]) == ("submitted", 2)

    # A replay (as recorded, or as pulled) changes nothing: no write, no new revision.
    serial = row.server_serial
    final = {**item("ev-00000001", world), "photo_ids": '["ev-photo-1", "ev-photo-2"]'}
    again = pushed(admin, created=[final])
    assert (again["applied"], again["unchanged"]) == (0, 1)
    assert pushed(admin, updated=[back])["unchanged"] == 1
    row = stored(session, "ev-00000001")
    assert (row.server_serial, row.revision) == (serial, 2)
    assert actions(session, row.id) == ["submitted", "rejected", "resubmitted"]


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        ({"kind": "party"}, "invalid_field", "kind:"),
        ({"kind": None}, "invalid_field", "kind:"),
        ({"kind": "news_report", "photo_ids": "[]"}, "invalid_field", "url:"),
        ({"kind": "news_report", "photo_ids": None, "url": "ftp://x"}, "invalid_field", "url:"),
        ({"kind": "teaching_materials"}, "invalid_field", "subject:"),
        ({"title": " "}, "invalid_field", "title:"),
        ({"day": "2999-01-01"}, "invalid_field", "day:"),
        ({"day": "yesterday"}, "invalid_field", "day:"),
        ({"school_ids": "not json"}, "invalid_field", "school_ids:"),
        ({"details": '{"mentor": "王老师"}'}, "invalid_field", "details.mentor:"),
        ({"community_id": "nope"}, "invalid_field", "community_id:"),
        ({"kind": "mentor_session", "details": '{"pair_id": "no-such-pair"}'}, "invalid_field", ""),
    ],
)
def test_a_broken_rule_is_quarantined_with_its_code(
    session: Session,
    world: World,
    admin: Phone,
    change: dict[str, Any],
    reason: str,
    detail: str,
) -> None:
    assert pushed(admin, created=[item("ev-bad-0001", world, **change)])["quarantined"] == 1
    assert fresh(session, sa.select(EvidenceItem)) == []
    [echo] = pulled(admin)["updated"]
    assert (echo["id"], echo["status"], flag_code(echo)) == ("ev-bad-0001", "quarantined", reason)
    assert json.loads(echo["flags"])[0]["reason"].startswith(detail)


def test_a_school_outside_the_community_is_quarantined(world: World, admin: Phone) -> None:
    record = item("ev-00000002", world, school_ids=json.dumps([str(world.other_a.id)]))
    assert pushed(admin, created=[record])["quarantined"] == 1
    [echo] = pulled(admin)["updated"]
    assert flag_code(echo) == "invalid_field"
    assert "not a current school of the community" in json.loads(echo["flags"])[0]["reason"]


@pytest.mark.parametrize("community", ["community_b", "unknown"])
def test_a_community_the_school_is_not_in_is_quarantined_alike_whether_or_not_it_exists(
    session: Session, world: World, admin: Phone, community: str
) -> None:
    community_id = (
        str(world.community_b.id)
        if community == "community_b"
        else "00000000-0000-4000-8000-000000000000"
    )
    record = item("ev-00000003", world, community_id=community_id, school_ids="[]")
    assert pushed(admin, created=[record])["quarantined"] == 1
    assert fresh(session, sa.select(EvidenceItem)) == []
    [echo] = pulled(admin)["updated"]
    assert flag_code(echo) == "not_a_community_member"


def test_a_fixed_quarantined_record_is_stored_and_its_entry_resolved(
    session: Session, world: World, admin: Phone
) -> None:
    bad = item("ev-00000004", world, kind="news_report", photo_ids="[]")
    admin.create(TABLE, bad)
    assert synced(admin)["quarantined"] == 1
    admin.pull()  # the echo: "quarantined", with the reason
    local = admin.table(TABLE)["ev-00000004"]
    assert local.values["status"] == "quarantined"
    admin.update(TABLE, "ev-00000004", url="https://news.example.org/a")
    assert admin.sync().json == APPLIED
    row = stored(session, "ev-00000004")
    assert (row.kind, row.url, row.revision) == ("news_report", "https://news.example.org/a", 1)
    [back] = pulled(admin)["updated"]
    assert (back["status"], back["flags"]) == ("accepted", "[]")


def test_kind_and_community_cannot_change_and_the_stored_item_comes_back(
    session: Session, world: World, admin: Phone
) -> None:
    pushed(admin, created=[item("ev-00000005", world)])
    admin.pull()
    admin.update(TABLE, "ev-00000005", kind="typical_case")
    assert synced(admin)["quarantined"] == 1
    [back] = pulled(admin)["updated"]
    assert (back["kind"], back["status"]) == ("development_seminar", "accepted")
    assert admin.table(TABLE)["ev-00000005"].values["kind"] == "development_seminar"
    assert stored(session, "ev-00000005").revision == 1


def test_deleting_withdraws_and_other_admins_phones_drop_it(
    client: FlaskClient, session: Session, world: World, admin: Phone
) -> None:
    pushed(admin, created=[item("ev-00000006", world)])
    partner = class_phone(client, session, world, "host_admin_a")  # member A's admin
    assert [r["id"] for r in pulled(partner)["updated"]] == ["ev-00000006"]
    admin.pull()
    admin.delete(TABLE, "ev-00000006")
    assert admin.sync().json == APPLIED
    row = stored(session, "ev-00000006")
    assert row.deleted_at is not None
    assert actions(session, row.id) == ["submitted", "withdrawn"]
    assert pulled(partner)["deleted"] == ["ev-00000006"]
    # Again, or re-pushed: nothing more; the withdrawn item stays withdrawn.
    assert pushed(admin, deleted=["ev-00000006"])["unchanged"] == 1
    echo = pushed(admin, updated=[item("ev-00000006", world)])
    assert echo["quarantined"] == 1
    assert actions(session, row.id) == ["submitted", "withdrawn"]


def test_a_partner_schools_admin_may_fix_an_item_as_through_the_api(
    client: FlaskClient, session: Session, world: World, admin: Phone
) -> None:
    pushed(admin, created=[item("ev-00000007", world)])
    partner = class_phone(client, session, world, "host_admin_a")
    partner.pull()
    partner.update(TABLE, "ev-00000007", title="共谋发展专题研讨（第二次）")
    assert partner.sync().json == APPLIED
    row = stored(session, "ev-00000007")
    assert (row.title, row.revision, row.submitted_by_id) == (
        "共谋发展专题研讨（第二次）",
        2,
        world.users["school_admin_a"].id,
    )
    [event] = review.history(session, evidence.KIND, row.id)[-1:]
    assert event.actor_id == world.users["host_admin_a"].id
    # Another county's admin cannot see it, so cannot take its id either.
    stranger = class_phone(client, session, world, "school_admin_b")
    record = item("ev-00000007", world, community_id=str(world.community_b.id), school_ids="[]")
    assert pushed(stranger, created=[record])["quarantined"] == 1
    assert flag_code(pulled(stranger)["updated"][0]) == "id_in_use"


def test_a_mentor_pair_and_its_session_in_one_push_and_the_pair_stays_while_named(
    session: Session, world: World, admin: Phone
) -> None:
    pair = item(
        "ev-pair-0001",
        world,
        kind="mentor_pair",
        details=json.dumps({"mentor": "王老师", "mentee": "李老师"}, ensure_ascii=False),
        people="[]",
    )
    meeting = item(
        "ev-meet-0001", world, kind="mentor_session", details='{"pair_id": "ev-pair-0001"}'
    )
    counters = pushed(admin, created=[pair, meeting])
    assert (counters["applied"], counters["quarantined"]) == (2, 0)
    assert stored(session, "ev-pair-0001").people == ["王老师", "李老师"]
    # The pair as pulled back (its people filled in) is the same record: a replay.
    back = {r["id"]: r for r in pulled(admin)["updated"]}
    assert pushed(admin, updated=[back["ev-pair-0001"]])["unchanged"] == 1

    # The pair cannot go while its session is live: it comes back on the next pull.
    admin.delete(TABLE, "ev-pair-0001")
    assert admin.sync().json == APPLIED
    assert stored(session, "ev-pair-0001").deleted_at is None
    assert "ev-pair-0001" not in admin.table(TABLE)
    assert [r["id"] for r in pulled(admin)["updated"]] == ["ev-pair-0001"]
    assert "ev-pair-0001" in admin.table(TABLE)

    # A new session naming it in the same push keeps it too.
    admin.create(TABLE, {**meeting, "id": "ev-meet-0002"})
    admin.delete(TABLE, "ev-pair-0001")
    assert synced(admin)["applied"] == 2
    assert stored(session, "ev-pair-0001").deleted_at is None
    admin.pull()

    # Both of its sessions and the pair in one push, in any order: all withdrawn.
    admin.delete(TABLE, "ev-pair-0001")
    admin.delete(TABLE, "ev-meet-0001")
    admin.delete(TABLE, "ev-meet-0002")
    counters = synced(admin)
    assert (counters["applied"], counters["quarantined"]) == (3, 0)
    for record_id in ("ev-meet-0001", "ev-meet-0002", "ev-pair-0001"):
        assert stored(session, record_id).deleted_at is not None
        assert actions(session, record_id)[-1] == "withdrawn"


def test_only_school_admins_of_the_community_pull_it_within_the_window(
    client: FlaskClient, session: Session, world: World, admin: Phone
) -> None:
    start = window_start(clock.today())
    recent = filed_evidence(session, world, "joint_activity", start)
    old = filed_evidence(session, world, "joint_activity", start - timedelta(days=1))
    old_rejected = filed_evidence(session, world, "typical_case", start - timedelta(days=400))
    review.decide(
        session,
        evidence.KIND,
        old_rejected,
        world.users["bureau_a"].id,
        verified=False,
        reason="材料不全",
        revision=1,
    )
    session.commit()
    assert {r["id"] for r in pulled(admin)["updated"]} == {recent.id, old_rejected.id}
    assert old.id not in admin.table(TABLE)
    for persona in ("teacher_a", "inspector_a", "bureau_a", "school_admin_b"):
        changes = class_phone(client, session, world, persona).pull()["changes"][TABLE]
        assert changes == {"created": [], "updated": [], "deleted": []}, persona


def test_a_teachers_push_is_not_writable(
    client: FlaskClient, session: Session, world: World
) -> None:
    teacher = class_phone(client, session, world, "teacher_a")
    assert pushed(teacher, created=[item("ev-00000008", world)])["quarantined"] == 1
    assert fresh(session, sa.select(EvidenceItem)) == []
    [echo] = pulled(teacher)["updated"]
    assert (echo["status"], flag_code(echo)) == ("quarantined", "not_writable")
