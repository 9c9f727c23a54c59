"""Class report forms over HTTP: filed by the community's school admins and teachers, read
by the community and the bureau above, withdrawn by deleting; the progress view."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend import review
from backend.classes.sessions import KIND
from backend.clock import today
from tests.classes.support import (
    SCHOOL_YEAR,
    api_form,
    class_phone,
    form,
    push,
    stored,
    timetable_body,
)
from tests.factories import World

URL = "/api/v1/classes/sessions"


pytestmark = pytest.mark.usefixtures("standard_photos_received")


def file(client: FlaskClient, world: World, persona: str = "school_admin_a", **values: Any) -> Any:
    response = client.post(URL, json=api_form(world, **values), headers=world.headers[persona])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_school_admin_files_edits_and_withdraws_a_form(
    client: FlaskClient, session: Session, world: World
) -> None:
    headers = world.headers["school_admin_a"]
    filed = file(client, world, lead_photo_ids=[])
    assert len(filed["id"]) == 32  # the server made one
    assert (filed["complete"], filed["review_status"], filed["revision"]) == (
        False,
        "submitted",
        1,
    )
    assert filed["missing"] == ["主讲课堂照片 (lead classroom photo)"]
    url = f"{URL}/{filed['id']}"

    assert client.patch(url, json={"topic": "新"}, headers=headers).status_code == 428
    etag = client.get(url, headers=headers).headers["ETag"]
    fixed = client.patch(
        url, json={"lead_photo_ids": ["api-lead-1"]}, headers={**headers, "If-Match": etag}
    )
    assert fixed.status_code == 200
    assert (fixed.get_json()["complete"], fixed.get_json()["revision"]) == (True, 2)
    # The same content again: no new revision.
    etag = fixed.headers["ETag"]
    same = client.patch(
        url, json={"lead_photo_ids": ["api-lead-1"]}, headers={**headers, "If-Match": etag}
    )
    assert same.get_json()["revision"] == 2

    # A teacher of the community reads it but edits only their own.
    teacher = world.headers["teacher_a"]
    etag = client.get(url, headers=teacher).headers["ETag"]
    assert (
        client.patch(url, json={"topic": "x"}, headers={**teacher, "If-Match": etag}).status_code
        == 403
    )
    assert client.delete(url, headers=teacher).status_code == 403

    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404
    actions = [e.action for e in review.history(session, KIND, filed["id"])]
    assert actions == ["submitted", "resubmitted", "withdrawn"]


def test_a_teacher_files_with_an_id_of_their_own(client: FlaskClient, world: World) -> None:
    filed = file(client, world, "teacher_a", id="t-form-0001")
    assert filed["id"] == "t-form-0001" and filed["complete"] is True
    again = client.post(
        URL, json={**api_form(world), "id": "t-form-0001"}, headers=world.headers["teacher_a"]
    )
    assert again.status_code == 409 and again.get_json()["code"] == "id_in_use"


def test_who_sees_the_forms(client: FlaskClient, world: World) -> None:
    filed = file(client, world)
    url = f"{URL}/{filed['id']}"
    for reader in ("teacher_a", "host_admin_a", "bureau_a", "inspector_a", "bureau_city"):
        assert client.get(url, headers=world.headers[reader]).status_code == 200, reader
    for outsider in ("teacher_b", "school_admin_b", "bureau_b"):
        assert client.get(url, headers=world.headers[outsider]).status_code == 404, outsider
        assert client.get(URL, headers=world.headers[outsider]).get_json()["items"] == []
        assert client.delete(url, headers=world.headers[outsider]).status_code in {403, 404}
    # Filing is for the community's own people; the bureau reviews instead.
    assert (
        client.post(URL, json=api_form(world), headers=world.headers["bureau_a"]).status_code == 403
    )
    foreign = client.post(URL, json=api_form(world), headers=world.headers["school_admin_b"])
    assert foreign.status_code == 422 and foreign.get_json()["code"] == "not_in_community"


def test_listing_filters_and_pages(client: FlaskClient, session: Session, world: World) -> None:
    headers = world.headers["school_admin_a"]
    ids = [file(client, world, id=f"list-{i}", subject=s)["id"] for i, s in enumerate("数语数")]
    file(client, world, id="list-9", discussion="")
    review.decide(
        session,
        KIND,
        stored(session, "list-0"),
        world.users["bureau_a"].id,
        verified=True,
        reason="",
        revision=1,
    )
    session.commit()

    def listed(**query: Any) -> list[str]:
        body = client.get(URL, query_string=query, headers=headers).get_json()
        return [item["id"] for item in body["items"]]

    assert listed(subject="数") == ["list-0", "list-2"]
    assert listed(complete="false") == ["list-9"]
    assert listed(review_status="verified") == ["list-0"]
    assert listed(community_id=str(world.community_b.id)) == []
    assert listed(to=(today().replace(year=2000)).isoformat()) == []
    seen: list[str] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(URL, query_string=query, headers=headers).get_json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [*ids, "list-9"]
    assert client.get(URL, query_string={"cursor": "!!"}, headers=headers).status_code == 422


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"duration_minutes": 0}, "invalid_field"),
        ({"duration_minutes": 601}, "invalid_field"),
        ({"duration_minutes": "long"}, "validation_error"),
        ({"subject": ""}, "invalid_field"),
        ({"participants": []}, "invalid_field"),
        (
            {"participants": [{"school_id": "x", "class_name": "a", "student_count": 1}]},
            "validation_error",
        ),
        ({"connection_quality": "great"}, "validation_error"),
        ({"day": "2999-01-01"}, "day_in_future"),
        ({"lead_photo_ids": ["no spaces allowed"]}, "invalid_field"),
        ({"timetable_entry_id": "00000000-0000-0000-0000-000000000001"}, "unknown_timetable_entry"),
        ({"lead_school_id": "00000000-0000-0000-0000-000000000001"}, "school_not_in_community"),
        ({"id": "bad id"}, "invalid_field"),
        ({"topic": "题" * 201}, "invalid_field"),
    ],
)
def test_bad_forms_are_422(
    client: FlaskClient, world: World, change: dict[str, Any], code: str
) -> None:
    response = client.post(
        URL, json={**api_form(world), **change}, headers=world.headers["school_admin_a"]
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == code


def test_a_receiving_class_at_a_school_that_left_is_refused(
    client: FlaskClient, world: World
) -> None:
    outside = [{"school_id": str(world.other_a.id), "class_name": "一班", "student_count": 3}]
    response = client.post(
        URL, json=api_form(world, participants=outside), headers=world.headers["teacher_a"]
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "school_not_in_community"


def test_progress_counts_complete_verified_sessions(
    client: FlaskClient, session: Session, world: World
) -> None:
    day = today().isoformat()
    for i, subject in enumerate(["数学", "数学", "语文", "英语"]):
        file(client, world, id=f"prog-{i}", subject=subject, day=day)
    file(client, world, id="prog-incomplete", day=day, topic="")
    reviewer = world.users["bureau_a"].id
    for record_id, verified in [
        ("prog-0", True),
        ("prog-1", True),
        ("prog-2", True),
        ("prog-3", False),
        ("prog-incomplete", True),
    ]:
        review.decide(
            session,
            KIND,
            stored(session, record_id),
            reviewer,
            verified=verified,
            reason="" if verified else "不清楚",
            revision=1,
        )
    session.commit()
    query = {"community_id": str(world.community_a.id), "school_year": SCHOOL_YEAR}
    body = client.get(
        "/api/v1/classes/progress", query_string=query, headers=world.headers["teacher_a"]
    ).get_json()
    assert body["filed"] == 5 and body["complete"] == 4
    assert body["verified_complete"] == 3
    assert body["subjects"] == {"数学": 2, "语文": 1}
    assert (body["sessions_short"], body["subjects_short"], body["met"]) == (13, 0, False)
    assert (body["min_sessions"], body["min_subjects"], body["rule"]) == (16, 2, "003 §四(四)")
    assert 1 <= body["terms_left"] <= 2
    for outsider in ("teacher_b", "school_admin_b", "bureau_b"):
        response = client.get(
            "/api/v1/classes/progress", query_string=query, headers=world.headers[outsider]
        )
        assert response.status_code == 404
    bad = client.get(
        "/api/v1/classes/progress",
        query_string={"community_id": "x"},
        headers=world.headers["teacher_a"],
    )
    assert bad.status_code == 422


def test_a_lesson_is_filed_once_whoever_files_it(
    client: FlaskClient, session: Session, world: World
) -> None:
    made = client.post(
        "/api/v1/classes/timetable",
        json=timetable_body(world),
        headers=world.headers["school_admin_a"],
    )
    assert made.status_code == 201, made.get_json()
    lesson = {"timetable_entry_id": made.get_json()["id"]}
    first = file(client, world, **lesson)
    # The same lesson again from the teacher's browser: refused, not counted twice.
    again = client.post(URL, json=api_form(world, **lesson), headers=world.headers["teacher_a"])
    assert (again.status_code, again.get_json()["code"]) == (409, "duplicate_session")
    assert first["id"] in again.get_json()["message"]
    # …and from the teacher's phone: set aside with the same reason.
    phone = class_phone(client, session, world, "teacher_a")
    record = form("cs-dup-00001", world, timetable_entry_id=lesson["timetable_entry_id"])
    assert push(phone, created=[record])["quarantined"] == 1
    [echo] = [
        r for r in phone.pull()["changes"]["class_sessions"]["updated"] if r["id"] == record["id"]
    ]
    assert json.loads(echo["flags"])[0]["code"] == "duplicate_session"
    # Withdrawn, the lesson may be filed anew.
    assert (
        client.delete(f"{URL}/{first['id']}", headers=world.headers["school_admin_a"]).status_code
        == 204
    )
    assert (
        client.post(
            URL, json=api_form(world, **lesson), headers=world.headers["teacher_a"]
        ).status_code
        == 201
    )
