"""The joint timetable over HTTP: kept by the core school and the bureau, read by the
community's schools and teachers, invisible (404) to everyone else; bad input is a 422."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.classes.support import SCHOOL_YEAR, timetable_body
from tests.factories import World

URL = "/api/v1/classes/timetable"


def create(
    client: FlaskClient, world: World, persona: str = "school_admin_a", **values: Any
) -> Any:
    response = client.post(
        URL, json=timetable_body(world, **values), headers=world.headers[persona]
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_core_school_keeps_the_timetable(client: FlaskClient, world: World) -> None:
    headers = world.headers["school_admin_a"]
    entry = create(client, world, dates=[f"{SCHOOL_YEAR}-10-14", f"{SCHOOL_YEAR}-09-16"])
    assert entry["dates"] == [f"{SCHOOL_YEAR}-09-16", f"{SCHOOL_YEAR}-10-14"]
    assert entry["receivers"] == [{"school_id": str(world.member_a.id), "class_name": "四(2)班"}]
    url = f"{URL}/{entry['id']}"

    listed = client.get(
        URL,
        query_string={"community_id": str(world.community_a.id), "term": 1},
        headers=headers,
    ).get_json()
    assert [e["id"] for e in listed["items"]] == [entry["id"]]
    assert client.get(URL, query_string={"term": 2}, headers=headers).get_json()["items"] == []

    assert client.patch(url, json={"period": "第4节"}, headers=headers).status_code == 428
    etag = client.get(url, headers=headers).headers["ETag"]
    changed = client.patch(url, json={"period": "第4节"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["period"] == "第4节"
    stale = client.patch(url, json={"period": "第5节"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412

    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404
    assert client.get(URL, headers=headers).get_json()["items"] == []


def test_who_sees_and_who_keeps_the_timetable(client: FlaskClient, world: World) -> None:
    entry = create(client, world)
    url = f"{URL}/{entry['id']}"
    for reader in ("host_admin_a", "teacher_a", "teacher_a2", "bureau_a", "inspector_a"):
        assert client.get(url, headers=world.headers[reader]).status_code == 200, reader
    for outsider in ("school_admin_b", "teacher_b", "bureau_b"):
        assert client.get(url, headers=world.headers[outsider]).status_code == 404, outsider
        assert client.get(URL, headers=world.headers[outsider]).get_json()["items"] == []

    # A member (not core) school reads the timetable but does not keep it.
    member = world.headers["host_admin_a"]
    etag = client.get(url, headers=member).headers["ETag"]
    assert (
        client.patch(url, json={"note": "x"}, headers={**member, "If-Match": etag}).status_code
        == 404
    )
    assert client.delete(url, headers=member).status_code == 404
    refused = client.post(URL, json=timetable_body(world), headers=member)
    assert refused.status_code == 403 and refused.get_json()["rule"] == "000 §三(四)"
    # Teachers and inspectors never write it; a foreign school does not see the community.
    for role in ("teacher_a", "inspector_a"):
        assert (
            client.post(URL, json=timetable_body(world), headers=world.headers[role]).status_code
            == 403
        )
    foreign = client.post(URL, json=timetable_body(world), headers=world.headers["school_admin_b"])
    assert foreign.status_code == 422 and foreign.get_json()["code"] == "unknown_community"
    assert client.delete(url, headers=world.headers["school_admin_b"]).status_code == 404

    # The bureau above keeps it too.
    create(client, world, "bureau_a", subject="语文")
    bureau_b = client.post(URL, json=timetable_body(world), headers=world.headers["bureau_b"])
    assert bureau_b.status_code == 422


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"weekday": 8}, "invalid_field"),
        ({"weekday": None, "dates": []}, "invalid_field"),
        ({"dates": [f"{SCHOOL_YEAR + 1}-03-02"]}, "date_outside_term"),
        ({"dates": ["soon"]}, "invalid_field"),
        ({"term": 3}, "validation_error"),
        ({"school_year": "next"}, "validation_error"),
        ({"school_year": 1900}, "invalid_field"),
        ({"subject": "  "}, "invalid_field"),
        ({"subject": "数" * 51}, "invalid_field"),
        ({"receivers": []}, "invalid_field"),
        ({"receivers": [{"school_id": "nope"}]}, "validation_error"),
        ({"lead_teacher_id": "00000000-0000-0000-0000-000000000001"}, "unknown_teacher"),
        ({"community_id": "00000000-0000-0000-0000-000000000001"}, "unknown_community"),
        ({"unknown": 1}, "validation_error"),
    ],
)
def test_bad_entries_are_422(
    client: FlaskClient, world: World, change: dict[str, Any], code: str
) -> None:
    response = client.post(
        URL, json=timetable_body(world, **change), headers=world.headers["school_admin_a"]
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == code


def test_every_school_named_is_a_member_now(client: FlaskClient, world: World) -> None:
    headers = world.headers["school_admin_a"]
    outside = [{"school_id": str(world.other_a.id), "class_name": "一班"}]
    for body in (
        timetable_body(world, receivers=outside),
        timetable_body(world, lead_school_id=str(world.other_a.id)),
    ):
        response = client.post(URL, json=body, headers=headers)
        assert response.status_code == 422
        assert response.get_json()["code"] == "school_not_in_community"
