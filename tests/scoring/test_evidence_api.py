"""Community evidence (佐证材料) over HTTP: filing, what each kind needs, editing as new
revisions, withdrawal, and who sees what.

"Today" is fixed at Monday 2026-11-16 (China time).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend import clock
from backend.org.models import CommunityMembership
from backend.scoring.models import EvidenceItem
from tests.factories import World
from tests.scoring.evidence_support import filed_evidence, verified_evidence

EVIDENCE = "/api/v1/evidence"
TODAY = date(2026, 11, 16)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def body(world: World, kind: str = "development_seminar", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "community_id": str(world.community_a.id),
        "kind": kind,
        "day": "2026-10-20",
        "title": "共谋发展专题研讨会",
        "description": "核心校与成员校共同研讨本学期发展规划",
        "school_ids": [str(world.core_a.id), str(world.member_a.id)],
        "people": ["张校长", "李校长"],
        "photo_ids": ["photo-1"],
    }
    data.update(changes)
    return data


def file(
    client: FlaskClient, world: World, persona: str = "school_admin_a", **changes: Any
) -> TestResponse:
    kind = changes.pop("kind", "development_seminar")
    return client.post(EVIDENCE, json=body(world, kind, **changes), headers=world.headers[persona])


def created(response: TestResponse) -> dict[str, Any]:
    data: dict[str, Any] = response.get_json()
    assert response.status_code == 201, data
    return data


def refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    data: dict[str, Any] = response.get_json()
    assert response.status_code == status, data
    assert data["code"] == code and data["message"], data
    return data


def patch(
    client: FlaskClient, world: World, item_id: str, changes: dict[str, Any], persona: str
) -> TestResponse:
    headers = world.headers[persona]
    etag = client.get(f"{EVIDENCE}/{item_id}", headers=headers).headers["ETag"]
    return client.patch(
        f"{EVIDENCE}/{item_id}", json=changes, headers={**headers, "If-Match": etag}
    )


# --- filing -----------------------------------------------------------------------------------


def test_filed_item_waits_for_review_as_revision_1(client: FlaskClient, world: World) -> None:
    item = created(file(client, world))
    assert len(item["id"]) == 32  # the server's uuid hex
    assert item["review_status"] == "submitted"
    assert item["revision"] == 1
    assert item["counts"] is False
    assert item["submitted_by_id"] == str(world.users["school_admin_a"].id)
    assert item["school_ids"] == [str(world.core_a.id), str(world.member_a.id)]
    assert item["reviewed_by_id"] is None and item["review_reason"] == ""


def test_client_id_is_kept_and_not_reused(client: FlaskClient, world: World) -> None:
    assert created(file(client, world, id="phone-ev-1"))["id"] == "phone-ev-1"
    refused(file(client, world, id="phone-ev-1"), 409, "id_in_use")
    bad = refused(file(client, world, id="has space"), 422, "invalid_field")
    assert "id" in bad["errors"]["json"]


def test_a_member_school_files_too(client: FlaskClient, world: World) -> None:
    item = created(file(client, world, "host_admin_a", school_ids=[str(world.member_a.id)]))
    assert item["community_id"] == str(world.community_a.id)


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("development_seminar", {"day": "2026-11-17"}, "day"),
        ("development_seminar", {"title": "   "}, "title"),
        ("development_seminar", {"title": "长" * 201}, "title"),
        ("development_seminar", {"description": "x" * 4001}, "description"),
        ("development_seminar", {"school_ids": ["not-a-school"]}, "school_ids"),
        ("development_seminar", {"photo_ids": ["no spaces allowed"]}, "photo_ids"),
        ("development_seminar", {"people": [""]}, "people"),
        ("development_seminar", {"details": {"mentor": "王老师"}}, "details.mentor"),
        ("no_such_kind", {}, "kind"),
        ("news_report", {"photo_ids": []}, "url"),
        ("news_report", {"url": "ftp://news.example.org/a", "photo_ids": []}, "url"),
        ("news_report", {"url": "javascript:alert(1)"}, "url"),
        ("teaching_materials", {}, "subject"),
        ("teaching_materials", {"subject": " "}, "subject"),
        ("mentor_pair", {"details": {"mentor": "王老师"}}, "details.mentee"),
        ("mentor_pair", {"details": {"mentor": "王老师", "mentee": "王老师"}}, "details.mentee"),
        ("mentor_pair", {"details": {"mentor": 7, "mentee": "李老师"}}, "details.mentor"),
        ("mentor_session", {}, "details.pair_id"),
        ("mentor_session", {"details": {"pair_id": "nope"}}, "details.pair_id"),
        ("quality_analysis", {"details": {"monitoring_id": "nope"}}, "details.monitoring_id"),
        ("quality_monitoring", {"details": {"analysis": "yes"}}, "details.analysis"),
    ],
)
def test_each_kind_refuses_what_it_cannot_use(
    client: FlaskClient, world: World, kind: str, changes: dict[str, Any], field: str
) -> None:
    error = refused(file(client, world, kind=kind, **changes), 422, "invalid_field")
    assert field in error["errors"]["json"], error


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"day": "20 October"}, "day"),
        ({"details": ["a", "list"]}, "details"),
        ({"school_ids": "one"}, "school_ids"),
        ({"colour": "red"}, "colour"),
        ({"community_id": "x"}, "community_id"),
    ],
)
def test_malformed_bodies_name_the_field(
    client: FlaskClient, world: World, changes: dict[str, Any], field: str
) -> None:
    error = refused(file(client, world, **changes), 422, "validation_error")
    assert field in error["errors"]["json"], error


def test_schools_must_be_current_members(client: FlaskClient, world: World) -> None:
    error = refused(file(client, world, school_ids=[str(world.other_a.id)]), 422, "invalid_field")
    assert str(world.other_a.id) in error["message"]
    error = refused(file(client, world, school_ids=[str(world.core_b.id)]), 422, "invalid_field")
    assert "school_ids" in error["errors"]["json"]


def test_kinds_accept_what_they_need(client: FlaskClient, session: Session, world: World) -> None:
    news = created(file(client, world, kind="news_report", url="https://x.example.org/a"))
    assert news["url"] == "https://x.example.org/a"
    screenshot = created(file(client, world, kind="news_report", photo_ids=["shot-1"]))
    assert screenshot["url"] is None
    materials = created(file(client, world, kind="teaching_materials", subject="语文"))
    assert materials["subject"] == "语文"
    pair = created(
        file(
            client,
            world,
            kind="mentor_pair",
            people=["李老师", "教研组长"],
            details={"mentor": str(world.teacher_a.id), "mentee": "李老师"},
        )
    )
    # The pair's people are the item's people too.
    assert pair["people"] == [str(world.teacher_a.id), "李老师", "教研组长"]
    mentor_session = created(
        file(client, world, kind="mentor_session", details={"pair_id": pair["id"]})
    )
    assert mentor_session["details"] == {"pair_id": pair["id"]}
    monitoring = created(file(client, world, kind="quality_monitoring", details={"analysis": True}))
    created(
        file(client, world, kind="quality_analysis", details={"monitoring_id": monitoring["id"]})
    )


def test_a_mentor_given_by_id_is_a_teacher_of_the_community(
    client: FlaskClient, world: World
) -> None:
    details = {"mentor": str(world.teacher_b.id), "mentee": "李老师"}
    error = refused(file(client, world, kind="mentor_pair", details=details), 422, "invalid_field")
    assert "details.mentor" in error["errors"]["json"]


def test_references_stay_within_the_community(
    client: FlaskClient, session: Session, world: World
) -> None:
    pair_b = filed_evidence(
        session,
        world,
        "mentor_pair",
        date(2026, 10, 1),
        submitter="school_admin_b",
        community_id=world.community_b.id,
        school_ids=[],
    )
    session.commit()
    error = refused(
        file(client, world, kind="mentor_session", details={"pair_id": pair_b.id}),
        422,
        "invalid_field",
    )
    assert "details.pair_id" in error["errors"]["json"]
    # A monitoring is not a pair.
    monitoring = created(file(client, world, kind="quality_monitoring"))
    refused(
        file(client, world, kind="mentor_session", details={"pair_id": monitoring["id"]}),
        422,
        "invalid_field",
    )


# --- who may --------------------------------------------------------------------------------


def test_scope(client: FlaskClient, session: Session, world: World) -> None:
    item = created(file(client, world))
    url = f"{EVIDENCE}/{item['id']}"
    for persona in ("school_admin_a", "host_admin_a", "bureau_a", "bureau_city", "inspector_a"):
        assert client.get(url, headers=world.headers[persona]).status_code == 200, persona
    for persona in ("school_admin_b", "bureau_b", "inspector_b"):
        refused(client.get(url, headers=world.headers[persona]), 404, "not_found")
        listed = client.get(EVIDENCE, headers=world.headers[persona]).get_json()["items"]
        assert item["id"] not in [i["id"] for i in listed]
    refused(client.get(url, headers=world.headers["teacher_a"]), 403, "forbidden")
    refused(client.get(EVIDENCE, headers=world.headers["teacher_a"]), 403, "forbidden")
    refused(file(client, world, "teacher_a"), 403, "forbidden")
    refused(file(client, world, "bureau_a"), 403, "forbidden")
    refused(file(client, world, "inspector_a"), 403, "forbidden")
    # Another county's school cannot file for community A, nor change its items.
    refused(file(client, world, "school_admin_b"), 404, "not_found")
    etag = client.get(url, headers=world.headers["school_admin_a"]).headers["ETag"]
    refused(
        client.patch(
            url,
            json={"title": "x"},
            headers={**world.headers["school_admin_b"], "If-Match": etag},
        ),
        404,
        "not_found",
    )


def test_school_admins_see_their_communitys_evidence_only(
    client: FlaskClient, session: Session, world: World
) -> None:
    mine = created(file(client, world))
    theirs = filed_evidence(
        session,
        world,
        "joint_activity",
        date(2026, 10, 9),
        submitter="school_admin_b",
        community_id=world.community_b.id,
    )
    session.commit()
    seen_a = client.get(EVIDENCE, headers=world.headers["school_admin_a"]).get_json()["items"]
    assert [i["id"] for i in seen_a] == [mine["id"]]
    seen_b = client.get(EVIDENCE, headers=world.headers["school_admin_b"]).get_json()["items"]
    assert [i["id"] for i in seen_b] == [theirs.id]
    city = client.get(EVIDENCE, headers=world.headers["bureau_city"]).get_json()["items"]
    assert {i["id"] for i in city} == {mine["id"], theirs.id}


def test_list_filters_and_pages(client: FlaskClient, world: World) -> None:
    headers = world.headers["bureau_a"]
    ids = [
        created(file(client, world, day=day, kind=kind))["id"]
        for day, kind in [
            ("2026-09-10", "joint_activity"),
            ("2026-10-10", "research_online"),
            ("2026-10-10", "research_online"),
            ("2026-11-10", "research_offline"),
        ]
    ]
    first = client.get(f"{EVIDENCE}?limit=3", headers=headers).get_json()
    assert first["next_cursor"] is not None and len(first["items"]) == 3
    rest = client.get(
        f"{EVIDENCE}?limit=3&cursor={first['next_cursor']}", headers=headers
    ).get_json()
    assert rest["next_cursor"] is None
    listed = [i["id"] for i in first["items"] + rest["items"]]
    assert sorted(listed) == sorted(ids) and len(set(listed)) == 4
    assert [i["day"] for i in first["items"]] == ["2026-09-10", "2026-10-10", "2026-10-10"]

    def ids_of(query: str) -> set[str]:
        return {i["id"] for i in client.get(f"{EVIDENCE}?{query}", headers=headers).json["items"]}  # type: ignore[index]

    assert ids_of("kind=research_online") == {ids[1], ids[2]}
    assert ids_of("from=2026-10-01&to=2026-10-31") == {ids[1], ids[2]}
    assert ids_of(f"community_id={world.community_b.id}") == set()
    assert ids_of("review_status=verified") == set()
    assert ids_of("review_status=submitted") == set(ids)
    refused(client.get(f"{EVIDENCE}?cursor=bogus", headers=headers), 422, "validation_error")
    refused(client.get(f"{EVIDENCE}?kind=nonsense", headers=headers), 422, "validation_error")


# --- editing and withdrawing ------------------------------------------------------------------


def test_patch_needs_the_etag(client: FlaskClient, world: World) -> None:
    item = created(file(client, world))
    url = f"{EVIDENCE}/{item['id']}"
    headers = world.headers["school_admin_a"]
    assert client.patch(url, json={"title": "新"}, headers=headers).status_code == 428
    stale = client.patch(url, json={"title": "新"}, headers={**headers, "If-Match": '"0"'})
    assert stale.status_code == 412


def test_a_change_is_a_new_revision_and_no_change_is_nothing(
    client: FlaskClient, world: World
) -> None:
    item = created(file(client, world))
    same = patch(client, world, item["id"], {"title": item["title"]}, "school_admin_a")
    assert same.status_code == 200 and same.json["revision"] == 1  # type: ignore[index]
    changed = patch(client, world, item["id"], {"title": "改后的标题"}, "host_admin_a")
    assert changed.status_code == 200, changed.json
    assert changed.json["revision"] == 2 and changed.json["title"] == "改后的标题"  # type: ignore[index]
    # Kind and community are what an item is: withdraw and file anew instead.
    refused(
        patch(client, world, item["id"], {"kind": "typical_case"}, "school_admin_a"),
        422,
        "validation_error",
    )
    # Edits are judged whole, like filings.
    error = refused(
        patch(client, world, item["id"], {"day": "2026-12-01"}, "school_admin_a"),
        422,
        "invalid_field",
    )
    assert "day" in error["errors"]["json"]


def test_a_verified_item_edited_is_submitted_again(
    client: FlaskClient, session: Session, world: World
) -> None:
    item = verified_evidence(session, world, "typical_case", date(2026, 10, 30))
    url = f"{EVIDENCE}/{item.id}"
    before = client.get(url, headers=world.headers["school_admin_a"]).get_json()
    assert before["review_status"] == "verified" and before["counts"] is True
    after = patch(client, world, item.id, {"description": "补充了材料"}, "school_admin_a")
    assert after.status_code == 200, after.json
    assert after.json["review_status"] == "submitted"  # type: ignore[index]
    assert after.json["revision"] == 2 and after.json["counts"] is False  # type: ignore[index]
    assert after.json["reviewed_by_id"] is None  # type: ignore[index]


def test_withdrawal_leaves_a_tombstone_and_the_trail(
    client: FlaskClient, session: Session, world: World
) -> None:
    item = created(file(client, world))
    url = f"{EVIDENCE}/{item['id']}"
    headers = world.headers["school_admin_a"]
    assert client.delete(url, headers=headers).status_code == 428
    etag = client.get(url, headers=headers).headers["ETag"]
    assert client.delete(url, headers={**headers, "If-Match": etag}).status_code == 204
    refused(client.get(url, headers=headers), 404, "not_found")
    assert client.get(EVIDENCE, headers=headers).get_json()["items"] == []
    row = session.get(EvidenceItem, item["id"], populate_existing=True)
    assert row is not None and row.deleted_at is not None
    trail = client.get(f"{url}/history", headers=headers).get_json()["items"]
    assert [e["action"] for e in trail] == ["submitted", "withdrawn"]
    assert trail[1]["actor"] == world.users["school_admin_a"].username


def test_a_pair_with_live_sessions_is_not_withdrawn(client: FlaskClient, world: World) -> None:
    headers = world.headers["school_admin_a"]
    pair = created(
        file(client, world, kind="mentor_pair", details={"mentor": "甲", "mentee": "乙"})
    )
    visit = created(file(client, world, kind="mentor_session", details={"pair_id": pair["id"]}))

    def withdraw(item_id: str) -> TestResponse:
        url = f"{EVIDENCE}/{item_id}"
        etag = client.get(url, headers=headers).headers["ETag"]
        return client.delete(url, headers={**headers, "If-Match": etag})

    refused(withdraw(pair["id"]), 409, "evidence_in_use")
    assert withdraw(visit["id"]).status_code == 204
    assert withdraw(pair["id"]).status_code == 204


def test_history_is_scoped(client: FlaskClient, world: World) -> None:
    item = created(file(client, world))
    url = f"{EVIDENCE}/{item['id']}/history"
    trail = client.get(url, headers=world.headers["host_admin_a"]).get_json()["items"]
    assert [(e["action"], e["revision"]) for e in trail] == [("submitted", 1)]
    assert trail[0]["snapshot"]["title"] == item["title"]
    refused(client.get(url, headers=world.headers["bureau_b"]), 404, "not_found")
    refused(client.get(url, headers=world.headers["teacher_a"]), 403, "forbidden")


def test_a_pair_edited_names_its_new_people(client: FlaskClient, world: World) -> None:
    pair = created(
        file(
            client,
            world,
            kind="mentor_pair",
            people=["教研组长"],
            details={"mentor": "王老师", "mentee": "李老师"},
        )
    )
    assert pair["people"] == ["王老师", "李老师", "教研组长"]
    changed = patch(
        client,
        world,
        pair["id"],
        {"details": {"mentor": "王老师", "mentee": "赵老师"}},
        "school_admin_a",
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["people"] == ["王老师", "赵老师", "教研组长"]  # type: ignore[index]
    assert changed.json["revision"] == 2  # type: ignore[index]


def test_a_school_that_left_reads_its_past_evidence_but_changes_nothing(
    client: FlaskClient, session: Session, world: World
) -> None:
    item = created(file(client, world, "host_admin_a"))
    session.execute(
        sa.update(CommunityMembership)
        .where(
            CommunityMembership.community_id == world.community_a.id,
            CommunityMembership.school_id == world.member_a.id,
        )
        .values(left_on=TODAY - timedelta(days=1))
    )
    session.commit()
    headers = world.headers["host_admin_a"]
    url = f"{EVIDENCE}/{item['id']}"
    read = client.get(url, headers=headers)
    assert read.status_code == 200  # its history stays readable
    etag = read.headers["ETag"]
    assert client.delete(url, headers={**headers, "If-Match": etag}).status_code == 404
    changed = client.patch(url, json={"title": "改"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 404
    after = client.get(url, headers=world.headers["school_admin_a"]).get_json()
    assert (after["title"], after["revision"]) == (item["title"], 1)
