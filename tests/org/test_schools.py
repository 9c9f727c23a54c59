"""Schools over HTTP: optimistic concurrency (ETags), cursor pagination, input validation."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.org.models import School
from tests import factories
from tests.factories import committed_world, fresh
from tests.org.support import (
    API,
    etag_of,
    expect_error,
    ok,
    patch_with_etag,
)


def _school_payload(w: factories.World, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "code": factories.next_code("V"),
        "name": "新建小学",
        "kind": "primary",
        "locality": "rural",
        "student_count": 120,
        "region_id": str(w.county_a.id),
        "latitude": 35.9,
        "longitude": 105.7,
    }
    payload.update(changes)
    return payload


# --- ETags ---------------------------------------------------------------------------------


def test_get_school_returns_an_etag(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)

    response = client.get(f"{API}/schools/{w.member_a.id}", headers=w.headers["bureau_a"])

    ok(response)
    assert response.headers.get("ETag")
    unchanged = client.get(
        f"{API}/schools/{w.member_a.id}",
        headers={**w.headers["bureau_a"], "If-None-Match": response.headers["ETag"]},
    )
    assert unchanged.status_code == 304


def test_patch_without_if_match_is_428(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    url = f"{API}/schools/{w.member_a.id}"

    response = client.patch(url, json={"name": "改名"}, headers=w.headers["bureau_a"])

    expect_error(response, 428, "precondition_required")
    assert ok(client.get(url, headers=w.headers["bureau_a"]))["name"] == w.member_a.name


def test_patch_with_a_stale_if_match_is_412(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    url = f"{API}/schools/{w.member_a.id}"
    bureau = w.headers["bureau_a"]
    stale = etag_of(client, url, bureau)
    ok(client.patch(url, json={"note": "first edit"}, headers={**bureau, "If-Match": stale}))

    response = client.patch(
        url, json={"name": "lost update"}, headers={**bureau, "If-Match": stale}
    )

    expect_error(response, 412, "precondition_failed")
    current = ok(client.get(url, headers=bureau))
    assert current["name"] == w.member_a.name and current["note"] == "first edit"


def test_patch_with_the_current_etag_succeeds(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    url = f"{API}/schools/{w.member_a.id}"
    bureau = w.headers["bureau_a"]
    before = etag_of(client, url, bureau)

    response = client.patch(
        url, json={"name": "改名小学", "locality": "urban"}, headers={**bureau, "If-Match": before}
    )

    body = ok(response)
    assert body["name"] == "改名小学" and body["locality"] == "urban"
    assert response.headers.get("ETag") and response.headers["ETag"] != before
    assert etag_of(client, url, bureau) == response.headers["ETag"]


def test_fence_points_can_be_replaced_keeping_a_label(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    """The new list replaces the old one, even when a point keeps its label."""
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    gate = {"label": "教学点", "latitude": 35.91, "longitude": 105.71, "radius_m": 200}
    created = ok(
        client.post(f"{API}/schools", json=_school_payload(w, fence_points=[gate]), headers=bureau),
        201,
    )
    url = f"{API}/schools/{created['id']}"

    moved = {**gate, "latitude": 35.92}
    response = patch_with_etag(client, url, bureau, {"fence_points": [moved]})

    assert ok(response)["fence_points"] == [moved]


# --- cursor pagination ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [3, 5])
def test_walking_the_cursor_yields_every_school_once(
    app: Flask, session: Session, client: FlaskClient, limit: int
) -> None:
    w = committed_world(session, app)
    for _ in range(7):
        factories.school(session, w.county_a)
    session.commit()
    expected = {
        str(i)
        for i in fresh(session, sa.select(School.id).where(School.region_id == w.county_a.id))
    }
    assert len(expected) == 10  # the world's three plus seven

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": limit, "region_id": str(w.county_a.id)}
        if cursor is not None:
            query["cursor"] = cursor
        page = ok(client.get(f"{API}/schools", query_string=query, headers=w.headers["bureau_a"]))
        pages += 1
        assert len(page["items"]) <= limit
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == limit  # only the last page may be short
        assert pages < 20, "the cursor does not advance"

    assert len(seen) == len(set(seen)) == 10
    assert set(seen) == expected
    assert pages == -(-10 // limit)  # ceil: no empty trailing page


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "not a cursor!", "AAAA", "é", "%%%", "////////////////////////"],
)
def test_a_garbage_cursor_is_422(
    app: Flask, session: Session, client: FlaskClient, cursor: str
) -> None:
    w = committed_world(session, app)

    response = client.get(
        f"{API}/schools", query_string={"cursor": cursor}, headers=w.headers["bureau_a"]
    )

    expect_error(response, 422, "validation_error", field="cursor", location="query")


@pytest.mark.parametrize("limit", ["0", "1000", "-1", "201", "ten"])
def test_a_limit_out_of_range_is_422(
    app: Flask, session: Session, client: FlaskClient, limit: str
) -> None:
    w = committed_world(session, app)

    response = client.get(
        f"{API}/schools", query_string={"limit": limit}, headers=w.headers["bureau_a"]
    )

    expect_error(response, 422, "validation_error", field="limit", location="query")


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"kind": "castle"}, "kind", id="bad-kind"),
        pytest.param({"locality": "suburban"}, "locality", id="bad-locality"),
        pytest.param({"latitude": 90.5}, "latitude", id="latitude-above-90"),
        pytest.param({"latitude": -91}, "latitude", id="latitude-below-minus-90"),
        pytest.param({"longitude": 181}, "longitude", id="longitude-out-of-range"),
        pytest.param({"student_count": -1}, "student_count", id="negative-students"),
        pytest.param({"geofence_radius_m": 5}, "geofence_radius_m", id="fence-too-small"),
        pytest.param({"colour": "red"}, "colour", id="unknown-field"),
        pytest.param({"code": "has space"}, "code", id="bad-code"),
        pytest.param(
            {"fence_points": [{"label": "x", "latitude": 95, "longitude": 1}]},
            "fence_points",
            id="nested-latitude",
        ),
    ],
)
def test_invalid_school_input_is_422_naming_the_field(
    app: Flask, session: Session, client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    w = committed_world(session, app)

    response = client.post(
        f"{API}/schools", json=_school_payload(w, **changes), headers=w.headers["bureau_a"]
    )

    expect_error(response, 422, "validation_error", field=field, location="json")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"kind": "castle"}, "kind", id="bad-kind"),
        pytest.param({"latitude": 123.0}, "latitude", id="latitude-out-of-range"),
        pytest.param({"code": "NEW1"}, "code", id="code-is-fixed"),
        pytest.param({"region_id": None}, "region_id", id="region-is-fixed"),
    ],
)
def test_invalid_school_patch_is_422_and_changes_nothing(
    app: Flask, session: Session, client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    w = committed_world(session, app)
    url = f"{API}/schools/{w.member_a.id}"

    response = patch_with_etag(client, url, w.headers["bureau_a"], changes)

    expect_error(response, 422, "validation_error", field=field, location="json")
    assert ok(client.get(url, headers=w.headers["bureau_a"]))["kind"] == "primary"


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        pytest.param(
            "/communities",
            {
                "name": "x",
                "mode": "federated",
                "term_start": "2026-09-01",
                "term_end": "2027-09-01",
            },
            "mode",
            id="community-mode",
        ),
        pytest.param(
            "/communities",
            {"name": "x", "mode": "merged", "term_start": "2027-09-01", "term_end": "2026-09-01"},
            "term_end",
            id="community-term-order",
        ),
        pytest.param(
            "/communities",
            {"name": "x", "mode": "merged", "term_start": "2026-09-31", "term_end": "2027-09-01"},
            "term_start",
            id="community-bad-date",
        ),
    ],
)
def test_invalid_community_input_is_422_naming_the_field(
    app: Flask,
    session: Session,
    client: FlaskClient,
    url: str,
    payload: dict[str, Any],
    field: str,
) -> None:
    w = committed_world(session, app)
    body = {"region_id": str(w.county_a.id), "core_school_id": str(w.other_a.id), **payload}

    response = client.post(f"{API}{url}", json=body, headers=w.headers["bureau_a"])

    expect_error(response, 422, "validation_error", field=field, location="json")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"action": "merge"}, "action", id="bad-action"),
        pytest.param({"status": "approved"}, "status", id="status-is-not-input"),
        pytest.param({"effective_on": "soon"}, "effective_on", id="bad-date"),
    ],
)
def test_invalid_membership_change_is_422_naming_the_field(
    app: Flask, session: Session, client: FlaskClient, payload: dict[str, Any], field: str
) -> None:
    w = committed_world(session, app)
    body = {"school_id": str(w.other_a.id), "action": "join", "effective_on": "2027-02-01"}

    response = client.post(
        f"{API}/communities/{w.community_a.id}/membership-changes",
        json={**body, **payload},
        headers=w.headers["bureau_a"],
    )

    expect_error(response, 422, "validation_error", field=field, location="json")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"kind": "castle"}, "kind", id="bad-kind"),
        pytest.param({"region_id": "nope"}, "region_id", id="bad-uuid"),
    ],
)
def test_invalid_query_args_are_422_naming_the_field(
    app: Flask, session: Session, client: FlaskClient, query: dict[str, str], field: str
) -> None:
    w = committed_world(session, app)

    response = client.get(f"{API}/schools", query_string=query, headers=w.headers["bureau_a"])

    expect_error(response, 422, "validation_error", field=field, location="query")


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        pytest.param({"json": [1, 2]}, 422, id="json-array"),
        pytest.param({"json": "a string"}, 422, id="json-string"),
        pytest.param(
            {"data": "{not json", "content_type": "application/json"}, 400, id="broken-json"
        ),
    ],
)
def test_malformed_bodies_are_client_errors_not_500(
    app: Flask, session: Session, client: FlaskClient, kwargs: dict[str, Any], status: int
) -> None:
    w = committed_world(session, app)

    response = client.post(f"{API}/schools", headers=w.headers["bureau_a"], **kwargs)

    code = "validation_error" if status == 422 else "bad_request"
    expect_error(response, status, code)


def test_a_school_picked_on_a_chinese_map_is_stored_in_gps_coordinates(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    from backend.geo import wgs84_to_gcj02

    w = committed_world(session, app)
    lat, lon = wgs84_to_gcj02(35.965, 105.731)  # what Amap shows for that spot
    gate_lat, gate_lon = wgs84_to_gcj02(35.97, 105.74)
    body = {
        "code": "GCJ-1",
        "name": "火石寨乡九年一贯制学校",
        "kind": "nine_year",
        "locality": "rural",
        "student_count": 300,
        "region_id": str(w.county_a.id),
        "latitude": lat,
        "longitude": lon,
        "coord_system": "gcj02",
        "fence_points": [{"label": "教学点", "latitude": gate_lat, "longitude": gate_lon}],
    }
    created = client.post(f"{API}/schools", json=body, headers=w.headers["bureau_a"])
    assert created.status_code == 201, created.json
    assert created.json is not None
    assert created.json["latitude"] == pytest.approx(35.965, abs=1e-6)
    assert created.json["longitude"] == pytest.approx(105.731, abs=1e-6)
    assert created.json["fence_points"][0]["latitude"] == pytest.approx(35.97, abs=1e-6)
    assert "coord_system" not in created.json
