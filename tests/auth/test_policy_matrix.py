"""The scope matrix: each role × each resource × own / foreign object → 200 / 403 / 404.

One table, read by the tests below. 404 means "outside your scope" (existence not leaked),
403 means "your role may never do this".
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import World

# (persona, resource path, object attribute on World, expected status)
READ_MATRIX: list[tuple[str, str, str, int]] = [
    # regions: oversight roles only
    ("teacher_a", "regions", "county_a", 403),
    ("school_admin_a", "regions", "county_a", 403),
    ("inspector_a", "regions", "county_a", 200),
    ("inspector_a", "regions", "county_b", 404),
    ("bureau_a", "regions", "county_a", 200),
    ("bureau_a", "regions", "city", 404),
    ("bureau_city", "regions", "county_b", 200),
    # schools
    ("teacher_a", "schools", "core_a", 200),  # home school
    ("teacher_a", "schools", "member_a", 200),  # host school
    ("teacher_a", "schools", "other_a", 404),
    ("teacher_a", "schools", "core_b", 404),
    ("teacher_a2", "schools", "member_a", 404),  # not seconded there
    ("school_admin_a", "schools", "core_a", 200),
    ("school_admin_a", "schools", "member_a", 200),  # community partner
    ("school_admin_a", "schools", "other_a", 404),
    ("school_admin_a", "schools", "core_b", 404),
    ("inspector_a", "schools", "other_a", 200),
    ("inspector_a", "schools", "core_b", 404),
    ("bureau_a", "schools", "other_a", 200),
    ("bureau_a", "schools", "member_b", 404),
    ("bureau_b", "schools", "member_b", 200),
    ("bureau_city", "schools", "core_a", 200),
    ("bureau_city", "schools", "core_b", 200),
    # communities
    ("teacher_a", "communities", "community_a", 200),
    ("teacher_a", "communities", "community_b", 404),
    ("teacher_b", "communities", "community_b", 200),
    ("school_admin_a", "communities", "community_a", 200),
    ("school_admin_a", "communities", "community_b", 404),
    ("host_admin_a", "communities", "community_a", 200),
    ("inspector_a", "communities", "community_a", 200),
    ("inspector_a", "communities", "community_b", 404),
    ("bureau_b", "communities", "community_a", 404),
    ("bureau_city", "communities", "community_a", 200),
    # teachers
    ("teacher_a", "teachers", "teacher_a", 200),
    ("teacher_a", "teachers", "teacher_a2", 404),
    ("teacher_a", "teachers", "teacher_b", 404),
    ("school_admin_a", "teachers", "teacher_a", 200),
    ("school_admin_a", "teachers", "teacher_a2", 200),
    ("school_admin_a", "teachers", "teacher_b", 404),
    ("host_admin_a", "teachers", "teacher_a", 200),  # hosted there
    ("host_admin_a", "teachers", "teacher_a2", 404),
    ("inspector_a", "teachers", "teacher_a2", 200),
    ("inspector_a", "teachers", "teacher_b", 404),
    ("bureau_b", "teachers", "teacher_a", 404),
    ("bureau_b", "teachers", "teacher_b", 200),
    # secondments
    ("teacher_a", "secondments", "secondment_a", 200),
    ("teacher_a", "secondments", "secondment_b", 404),
    ("teacher_a2", "secondments", "secondment_a", 404),
    ("school_admin_a", "secondments", "secondment_a", 200),  # home school
    ("host_admin_a", "secondments", "secondment_a", 200),  # host school
    ("school_admin_b", "secondments", "secondment_a", 404),
    ("inspector_a", "secondments", "secondment_a", 200),
    ("inspector_b", "secondments", "secondment_a", 404),
    ("bureau_a", "secondments", "secondment_b", 404),
    ("bureau_city", "secondments", "secondment_b", 200),
]

USER_MATRIX: list[tuple[str, str, int]] = [
    ("teacher_a", "teacher_a2", 403),
    ("inspector_a", "teacher_a", 403),
    ("school_admin_a", "teacher_a", 200),  # a teacher of the school
    ("school_admin_a", "teacher_b", 404),
    ("bureau_a", "teacher_a", 200),
    ("bureau_a", "school_admin_a", 200),
    ("bureau_a", "teacher_b", 404),
    ("bureau_a", "bureau_b", 404),
    ("bureau_city", "bureau_b", 200),
]

# (persona, method, path template, object, expected) for writes addressed by id.
WRITE_MATRIX: list[tuple[str, str, str, str, int]] = [
    ("bureau_a", "POST", "/api/v1/secondments/{}/cancel", "secondment_a", 200),
    ("bureau_b", "POST", "/api/v1/secondments/{}/cancel", "secondment_a", 404),
    ("school_admin_a", "POST", "/api/v1/secondments/{}/cancel", "secondment_a", 403),
    ("teacher_a", "POST", "/api/v1/secondments/{}/cancel", "secondment_a", 403),
    ("inspector_a", "POST", "/api/v1/secondments/{}/cancel", "secondment_a", 403),
    ("school_admin_a", "POST", "/api/v1/communities/{}/membership-changes", "community_b", 404),
    ("teacher_a", "POST", "/api/v1/communities/{}/membership-changes", "community_a", 403),
]


@pytest.mark.parametrize(("persona", "resource", "obj", "expected"), READ_MATRIX)
def test_read_scope(
    client: FlaskClient, world: World, persona: str, resource: str, obj: str, expected: int
) -> None:
    target = getattr(world, obj)
    response = client.get(f"/api/v1/{resource}/{target.id}", headers=world.headers[persona])
    assert response.status_code == expected, response.json
    if expected == 200:
        assert response.json is not None and response.json["id"] == str(target.id)
    else:
        assert response.json is not None and response.json["status"] == expected


@pytest.mark.parametrize(("persona", "resource", "obj", "expected"), READ_MATRIX)
def test_lists_never_leak(
    client: FlaskClient, world: World, persona: str, resource: str, obj: str, expected: int
) -> None:
    """What a GET by id hides, the list hides too; what it shows, the list shows."""
    target = getattr(world, obj)
    response = client.get(f"/api/v1/{resource}?limit=200", headers=world.headers[persona])
    if expected == 403:
        assert response.status_code == 403
        return
    assert response.status_code == 200, response.json
    assert response.json is not None
    ids = {item["id"] for item in response.json["items"]}
    assert (str(target.id) in ids) == (expected == 200)


@pytest.mark.parametrize(("persona", "target_user", "expected"), USER_MATRIX)
def test_user_scope(
    client: FlaskClient, world: World, persona: str, target_user: str, expected: int
) -> None:
    user = world.users[target_user]
    response = client.get(f"/api/v1/users/{user.id}", headers=world.headers[persona])
    assert response.status_code == expected, response.json
    listing = client.get("/api/v1/users?limit=200", headers=world.headers[persona])
    if expected == 403:
        assert listing.status_code == 403
    else:
        assert listing.json is not None
        ids = {item["id"] for item in listing.json["items"]}
        assert (str(user.id) in ids) == (expected == 200)


@pytest.mark.parametrize(("persona", "method", "path", "obj", "expected"), WRITE_MATRIX)
def test_write_scope(
    client: FlaskClient,
    world: World,
    persona: str,
    method: str,
    path: str,
    obj: str,
    expected: int,
) -> None:
    target = getattr(world, obj)
    body: dict[str, Any] = {"reason": "matrix"}
    if "membership-changes" in path:
        body = {"school_id": str(world.other_a.id), "action": "join", "effective_on": "2026-12-01"}
    response = client.open(
        path.format(target.id), method=method, json=body, headers=world.headers[persona]
    )
    assert response.status_code == expected, response.json


def test_patch_foreign_school_is_404_and_unchanged(
    client: FlaskClient, world: World, session: Session
) -> None:
    own = client.get(f"/api/v1/schools/{world.core_a.id}", headers=world.headers["bureau_city"])
    etag = own.headers["ETag"]
    response = client.patch(
        f"/api/v1/schools/{world.core_a.id}",
        json={"name": "hijacked"},
        headers={**world.headers["school_admin_b"], "If-Match": etag},
    )
    assert response.status_code == 404
    session.refresh(world.core_a)
    assert world.core_a.name != "hijacked"
    ok = client.patch(
        f"/api/v1/schools/{world.core_a.id}",
        json={"name": "西吉二中（新校区）"},
        headers={**world.headers["school_admin_a"], "If-Match": etag},
    )
    assert ok.status_code == 200, ok.json
    assert ok.json is not None and ok.json["name"] == "西吉二中（新校区）"
