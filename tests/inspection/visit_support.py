"""Spot checks and inspectors' phones for the visit tests.

``spot_check(session, world)`` inserts a drawn plan's result directly (the draw has its
own tests): a spot check of member A, the host school of teacher A, assigned to
inspector A (and any other inspectors given), with a window around today, committed.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import chinese_calendar
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import Device, User
from backend.clock import CHINA, today
from backend.exchange.models import Teacher
from backend.inspection.models import (
    InspectionPlan,
    SpotCheck,
    SpotCheckInspector,
    SpotCheckTeacher,
)
from backend.org.models import School
from tests import factories
from tests.factories import World
from tests.sync.phone import Phone

VERSION = 3


def ms(day: date, hhmm: str) -> int:
    """Epoch ms of ``hhmm`` on ``day``, China time."""
    hour, minute = map(int, hhmm.split(":"))
    return int(datetime.combine(day, time(hour, minute), CHINA).timestamp() * 1000)


def workday_before(days: int) -> date:
    """The latest national workday at least ``days`` days ago."""
    day = today() - timedelta(days=days)
    while not chinese_calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def spot_check(
    session: Session,
    world: World,
    *,
    school: School | None = None,
    teachers: list[Teacher] | None = None,
    inspectors: list[User] | None = None,
    window: tuple[date, date] | None = None,
    status: str = "assigned",
) -> SpotCheck:
    start, end = window or (today() - timedelta(days=10), today() + timedelta(days=3))
    plan = InspectionPlan(
        region_id=world.county_a.id,
        name=f"抽查 {factories.next_code('P')}",
        period_start=start,
        period_end=end,
        target_count=1,
        status="drawn",
    )
    session.add(plan)
    session.flush()
    check = SpotCheck(
        plan_id=plan.id,
        school_id=(school or world.member_a).id,
        window_start=start,
        window_end=end,
        sequence=1,
        status=status,
    )
    session.add(check)
    session.flush()
    for teacher in teachers if teachers is not None else [world.teacher_a]:
        session.add(SpotCheckTeacher(spot_check_id=check.id, teacher_id=teacher.id))
    for user in inspectors if inspectors is not None else [world.users["inspector_a"]]:
        session.add(SpotCheckInspector(spot_check_id=check.id, inspector_id=user.id))
    session.commit()
    return check


def another_inspector(session: Session, app: Flask, world: World) -> User:
    """A second inspector of county A, with a device and headers in the world."""
    user = factories.user(session, app, "inspector", region_id=world.county_a.id)
    name = f"inspector_{user.username}"
    world.users[name] = user
    world.headers[name] = factories.bearer(session, app, user)
    session.commit()
    return user


def phone_of(client: FlaskClient, session: Session, world: World, user: User) -> Phone:
    """The user's phone (the device the world made for them), on schema version 3."""
    name = next(n for n, u in world.users.items() if u.id == user.id)
    device = session.query(Device).filter(Device.user_id == user.id).one()
    return Phone(
        client=client,
        headers=world.headers[name],
        device_id=device.device_id,
        schema_version=VERSION,
    )


def visit(record_id: str, check: SpotCheck, arrived_at: int, **values: Any) -> dict[str, Any]:
    """A visit as the phone records it: at member A (where the factories put every school),
    finding teacher A teaching, no photos."""
    record: dict[str, Any] = {
        "id": record_id,
        "spot_check_id": str(check.id),
        "arrived_at": arrived_at,
        # No time-since-boot: the server estimates from the push's clock (skew) alone.
        "elapsed_ms": None,
        "boot_id": None,
        "latitude": 35.96,
        "longitude": 105.73,
        "accuracy_m": 10.0,
        "coord_system": "wgs84",
        "mock_location": False,
        "photo_ids": "[]",
        "signature_photo_id": None,
        "findings": "[]",
        "note": "",
    }
    record.update(values)
    return record


def findings(*pairs: tuple[uuid.UUID, str]) -> str:
    """The findings column as the phone sends it: JSON text."""
    return json.dumps([{"teacher_id": str(t), "finding": f, "note": ""} for t, f in pairs])


def push(phone: Phone, table: str = "spot_check_visits", **ops: list[Any]) -> dict[str, Any]:
    """Pull, then push these changes of one table; the push's counters."""
    phone.pull()
    response = phone.push_request({table: {"created": [], "updated": [], "deleted": [], **ops}})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body
