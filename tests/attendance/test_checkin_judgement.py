"""Check-ins are judged as they arrive through sync: secondment, fence, time, flags."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance.evaluation import wgs84_to_gcj02
from backend.attendance.models import CheckIn
from tests.factories import World
from tests.sync.phone import Phone, check_in, phone_for


def _push(phone: Phone, session: Session, record: dict[str, object]) -> CheckIn:
    phone.pull()
    changes = {"check_ins": {"created": [record], "updated": [], "deleted": []}}
    response = phone.push_request(changes)
    assert response.status_code == 200, response.json
    session.expire_all()
    row = session.get(CheckIn, str(record["id"]))
    assert row is not None
    return row


def _codes(row: CheckIn) -> list[str]:
    return [f["code"] for f in row.flags]


def test_a_punch_at_the_host_school_is_inside_and_unflagged(
    phone: Phone, session: Session, world: World
) -> None:
    row = _push(phone, session, check_in("judge00000000001"))
    assert row.location == "inside" and row.flags == [] and row.status == "accepted"
    assert row.secondment_id == world.secondment_a.id and row.host_school_id == world.member_a.id
    assert row.estimated_at is not None and row.estimate_method == "skew_only"


def test_far_from_the_fence_is_flagged_with_the_distance(phone: Phone, session: Session) -> None:
    row = _push(phone, session, check_in("judge00000000002", latitude=35.99, accuracy_m=10))
    assert row.location == "outside" and _codes(row) == ["outside_fence"]
    assert row.status == "flagged" and row.distance_m is not None and row.distance_m > 2_000


def test_gcj02_coordinates_are_converted_first(phone: Phone, session: Session) -> None:
    lat, lon = wgs84_to_gcj02(35.96, 105.73)  # what a Chinese map SDK reports at the school
    record = check_in("judge00000000003", latitude=lat, longitude=lon, coord_system="gcj02")
    row = _push(phone, session, record)
    assert row.location == "inside" and row.flags == []
    assert row.wgs84_latitude == pytest.approx(35.96, abs=1e-5)


def test_late_sync_and_mock_location(phone: Phone, session: Session) -> None:
    ten_days_ago = int(time.time() * 1000) - 10 * 86_400_000
    row = _push(
        phone, session, check_in("judge00000000004", captured_at=ten_days_ago, mock_location=True)
    )
    assert set(_codes(row)) == {"late_sync", "mock_location"}


def test_no_secondment_no_fence(client: FlaskClient, session: Session, world: World) -> None:
    other = phone_for(client, session, world, "teacher_a2")  # never seconded
    row = _push(other, session, check_in("judge00000000005"))
    assert row.location == "unknown" and "no_active_secondment" in _codes(row)
    assert row.secondment_id is None


def test_a_second_in_within_minutes_is_a_duplicate(phone: Phone, session: Session) -> None:
    _push(phone, session, check_in("judge00000000006"))
    row = _push(phone, session, check_in("judge00000000007"))
    assert _codes(row) == ["duplicate_punch"]
