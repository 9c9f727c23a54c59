"""Schema version 4: class report forms filed offline on a teacher's phone, with photos
from both classrooms uploaded through tus; completeness, quarantine, the review coming
back, withdrawal; the joint timetable pulled by the community's people only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import review
from backend.classes import timetable
from backend.classes.sessions import KIND
from sync.protocol import SCHEMA_VERSION_MAX
from tests.classes.support import (
    class_phone,
    form,
    participants,
    push,
    stored,
    timetable_body,
)
from tests.factories import World
from tests.inspection.test_visits_sync import upload
from tests.media.test_processing import photo_bytes, store_photo
from tests.sync.phone import Phone

APPLIED = {"ok": True, "applied": 1, "unchanged": 0, "ignored": 0, "quarantined": 0}


@pytest.fixture
def teacher(client: FlaskClient, session: Session, world: World) -> Phone:
    return class_phone(client, session, world, "teacher_a")


def pulled(phone: Phone, table: str = "class_sessions") -> dict[str, Any]:
    changes: dict[str, Any] = phone.pull()["changes"][table]
    return changes


def test_the_schema_version_is_4() -> None:
    assert SCHEMA_VERSION_MAX == 4


def test_an_offline_form_with_photos_from_both_ends_syncs_and_a_replay_changes_nothing(
    client: FlaskClient, session: Session, world: World, teacher: Phone
) -> None:
    # Offline: the form names the lead classroom's photo but not yet the receiving class's.
    record = form("cs-00000001", world, receiving_photos=())
    teacher.create("class_sessions", record)
    assert teacher.sync().json == APPLIED
    row = stored(session, "cs-00000001")
    assert row.submitted_by_id == world.users["teacher_a"].id
    assert (row.review_status, row.revision, row.complete) == ("submitted", 1, False)
    assert row.missing == [
        "主讲课堂照片 (lead classroom photo)；照片 cs-lead-1 尚未上传"
        " (photo cs-lead-1 not received yet)",
        f"接收班级 四(2)班（{world.member_a.name}）的照片"
        f" (photo from receiving class 四(2)班 at school {world.member_a.name})",
    ]

    # The receiving end's photo reaches the teacher (e.g. by WeChat); the form names it.
    teacher.update(
        "class_sessions",
        "cs-00000001",
        participants=json.dumps(participants(world, "cs-recv-1"), ensure_ascii=False),
    )
    assert teacher.sync().json == APPLIED
    row = stored(session, "cs-00000001")
    # Named, not received: a form is complete only with the photos behind it.
    assert row.complete is False and all("not received yet" in m for m in row.missing)
    assert (row.review_status, row.revision) == ("submitted", 2)  # new content: resubmitted

    # The photos arrive over tus and are verified; the pull says so.
    headers = world.headers["teacher_a"]
    for seed, photo_id in enumerate(["cs-lead-1", "cs-recv-1"], start=40):
        upload(client, headers, photo_id, photo_bytes(seed))
    [back] = pulled(teacher)["updated"]
    assert json.loads(back["photo_states"]) == {"cs-lead-1": "verified", "cs-recv-1": "verified"}
    assert (back["complete"], json.loads(back["missing"]), back["review_status"]) == (
        True,
        [],
        "submitted",
    )
    assert (back["revision"], back["status"]) == (2, "accepted")

    # The answer to a push was lost: the same record again, or as pulled, changes nothing.
    serial = stored(session, "cs-00000001").server_serial
    final = {**record, "participants": back["participants"]}
    again = push(teacher, created=[final])
    assert (again["applied"], again["unchanged"]) == (0, 1)
    assert push(teacher, updated=[back])["unchanged"] == 1
    row = stored(session, "cs-00000001")
    assert (row.server_serial, row.revision) == (serial, 2)
    assert [e.action for e in review.history(session, KIND, row.id)] == [
        "submitted",
        "resubmitted",
    ]


def test_an_incomplete_form_says_what_is_missing(
    session: Session, world: World, teacher: Phone, standard_photos_received: None
) -> None:
    push(
        teacher,
        created=[form("cs-00000002", world, lead_photos=(), topic="", discussion=" ")],
    )
    row = stored(session, "cs-00000002")
    assert row.complete is False
    assert row.missing == [
        "主讲课堂照片 (lead classroom photo)",
        "授课主题 (topic)",
        "课后研讨记录 (post-class discussion record)",
    ]
    [back] = pulled(teacher)["updated"]
    assert back["complete"] is False and len(json.loads(back["missing"])) == 3


def test_a_photo_that_fails_processing_makes_the_form_incomplete(
    app: Flask, session: Session, world: World, teacher: Phone
) -> None:
    push(teacher, created=[form("cs-00000003", world)])
    store_photo(app, world.users["teacher_a"].id, "cs-lead-1", photo_bytes(41))
    assert stored(session, "cs-00000003").missing == [
        f"接收班级 四(2)班（{world.member_a.name}）的照片"
        f" (photo from receiving class 四(2)班 at school {world.member_a.name})"
        "；照片 cs-recv-1 尚未上传 (photo cs-recv-1 not received yet)"
    ]
    store_photo(app, world.users["teacher_a"].id, "cs-recv-1", b"%PDF-1.7 not an image")
    row = stored(session, "cs-00000003")
    assert row.complete is False
    assert "photo cs-recv-1 could not be used" in row.missing[0]
    assert json.loads(pulled(teacher)["updated"][0]["photo_states"])["cs-recv-1"] == "invalid"


def test_a_form_for_a_community_the_teacher_is_not_in_is_quarantined(
    session: Session, world: World, teacher: Phone
) -> None:
    foreign = form(
        "cs-00000004",
        world,
        community_id=str(world.community_b.id),
        lead_school_id=str(world.core_b.id),
    )
    counters = push(teacher, created=[foreign])
    assert (counters["applied"], counters["quarantined"]) == (0, 1)
    [echo] = pulled(teacher)["updated"]
    assert echo["id"] == "cs-00000004" and echo["status"] == "quarantined"
    assert json.loads(echo["flags"])[0]["code"] == "not_in_community"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"duration_minutes": 0}, "invalid_field"),
        ({"duration_minutes": "forty"}, "invalid_field"),
        ({"subject": ""}, "invalid_field"),
        ({"participants": "[]"}, "invalid_field"),
        ({"participants": "not json"}, "invalid_field"),
        ({"connection_quality": "great"}, "invalid_field"),
        ({"day": "2026-13-40"}, "invalid_field"),
        ({"day": "2999-01-01"}, "day_in_future"),
        ({"lead_photo_ids": '["bad id!"]'}, "invalid_field"),
    ],
)
def test_a_bad_form_is_quarantined_with_its_reason(
    world: World, teacher: Phone, change: dict[str, Any], reason: str
) -> None:
    assert push(teacher, created=[form("cs-bad-0001", world, **change)])["quarantined"] == 1
    [echo] = pulled(teacher)["updated"]
    assert json.loads(echo["flags"])[0]["code"] == reason


def test_a_receiving_school_outside_the_community_is_quarantined(
    world: World, teacher: Phone
) -> None:
    outside = [{"school_id": str(world.other_a.id), "class_name": "一班", "student_count": 20}]
    record = form("cs-00000005", world, participants=json.dumps(outside))
    assert push(teacher, created=[record])["quarantined"] == 1
    [echo] = pulled(teacher)["updated"]
    assert json.loads(echo["flags"])[0]["code"] == "school_not_in_community"


def test_the_review_comes_back_to_the_phone(session: Session, world: World, teacher: Phone) -> None:
    push(teacher, created=[form("cs-00000006", world), form("cs-00000007", world)])
    teacher.pull()
    reviewer = world.users["bureau_a"].id
    review.decide(
        session,
        KIND,
        stored(session, "cs-00000006"),
        reviewer,
        verified=True,
        reason="",
        revision=1,
    )
    review.decide(
        session,
        KIND,
        stored(session, "cs-00000007"),
        reviewer,
        verified=False,
        reason="照片看不清学生",
        revision=1,
    )
    session.commit()
    back = {r["id"]: r for r in pulled(teacher)["updated"]}
    assert (back["cs-00000006"]["review_status"], back["cs-00000006"]["review_reason"]) == (
        "verified",
        "",
    )
    assert (back["cs-00000007"]["review_status"], back["cs-00000007"]["review_reason"]) == (
        "rejected",
        "照片看不清学生",
    )
    # Fixed on the phone: a new revision, to be reviewed again.
    teacher.update("class_sessions", "cs-00000007", lead_photo_ids='["cs-lead-2"]')
    assert teacher.sync().json == APPLIED
    row = stored(session, "cs-00000007")
    assert (row.review_status, row.revision, row.review_reason) == ("submitted", 2, "")


def test_deleting_a_form_withdraws_it(session: Session, world: World, teacher: Phone) -> None:
    push(teacher, created=[form("cs-00000008", world)])
    teacher.pull()
    teacher.delete("class_sessions", "cs-00000008")
    assert teacher.sync().json == APPLIED
    row = stored(session, "cs-00000008")
    assert row.deleted_at is not None
    assert review.history(session, KIND, row.id)[-1].action == "withdrawn"
    assert pulled(teacher)["updated"] == []


def test_only_the_communitys_people_pull_its_forms_and_timetable(
    client: FlaskClient, session: Session, world: World, teacher: Phone
) -> None:
    entry = timetable.create_entry(
        session,
        _principal_of(session, world, "school_admin_a"),
        timetable_body(world),
    )
    session.commit()
    push(teacher, created=[form("cs-00000009", world)])
    for persona in ("teacher_a2", "host_admin_a"):
        phone = class_phone(client, session, world, persona)
        changes = phone.pull()["changes"]
        assert [r["id"] for r in changes["class_sessions"]["updated"]] == ["cs-00000009"]
        [wire] = changes["timetable_entries"]["updated"]
        assert wire["id"] == str(entry.id) and wire["weekday"] == 3
        assert json.loads(wire["receivers"]) == [
            {"school_id": str(world.member_a.id), "class_name": "四(2)班"}
        ]
    for persona in ("teacher_b", "school_admin_b"):
        changes = class_phone(client, session, world, persona).pull()["changes"]
        assert changes["class_sessions"]["updated"] == []
        assert changes["timetable_entries"]["updated"] == []
    # Someone else's form cannot be pushed over: the id is taken.
    other = class_phone(client, session, world, "teacher_a2")
    assert push(other, created=[form("cs-00000009", world, topic="改")])["quarantined"] == 1
    # Removing the entry takes it off the phones.
    timetable.remove_entry(session, entry)
    session.commit()
    assert pulled(teacher, "timetable_entries")["deleted"] == [str(entry.id)]


def _principal_of(session: Session, world: World, persona: str) -> Any:
    from backend.auth.policy import Principal

    user = world.users[persona]
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        device_pk=user.id,
        school_id=user.school_id,
        teacher_id=user.teacher_id,
    )
