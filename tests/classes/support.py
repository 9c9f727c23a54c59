"""Synchronized-class data for the tests: phones on schema version 4, report forms as a
phone records them, timetable bodies as an admin posts them, and reading rows back."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import Device
from backend.classes.models import ClassSession
from backend.classes.timetable import school_year_of
from backend.clock import today
from backend.db import utcnow
from media.models import Photo
from tests.factories import World, fresh
from tests.sync.phone import Phone

VERSION = 4
SCHOOL_YEAR = school_year_of(today())
YESTERDAY = (today() - timedelta(days=1)).isoformat()


def class_phone(client: FlaskClient, session: Session, world: World, persona: str) -> Phone:
    """The persona's phone (the device the world made for them), on schema version 4."""
    user = world.users[persona]
    device = session.query(Device).filter(Device.user_id == user.id).one()
    return Phone(
        client=client,
        headers=world.headers[persona],
        device_id=device.device_id,
        schema_version=VERSION,
    )


def participants(
    world: World, *photo_ids: str, class_name: str = "四(2)班"
) -> list[dict[str, Any]]:
    return [
        {
            "school_id": str(world.member_a.id),
            "class_name": class_name,
            "student_count": 32,
            "photo_ids": list(photo_ids),
        }
    ]


def form(
    record_id: str,
    world: World,
    *,
    lead_photos: tuple[str, ...] = ("cs-lead-1",),
    receiving_photos: tuple[str, ...] = ("cs-recv-1",),
    **values: Any,
) -> dict[str, Any]:
    """A complete report form of community A as the phone sends it (lists as JSON text):
    teacher A teaching from core A to a class at member A."""
    record: dict[str, Any] = {
        "id": record_id,
        "community_id": str(world.community_a.id),
        "timetable_entry_id": None,
        "day": YESTERDAY,
        "subject": "数学",
        "topic": "分数的初步认识",
        "lead_school_id": str(world.core_a.id),
        "lead_teacher_id": str(world.teacher_a.id),
        "lead_class_name": "四(1)班",
        "lead_student_count": 45,
        "duration_minutes": 40,
        "connection_quality": "good",
        "problems": "",
        "discussion": "课后两校教师研讨了分数的直观教学。",
        "participants": json.dumps(participants(world, *receiving_photos), ensure_ascii=False),
        "lead_photo_ids": json.dumps(list(lead_photos)),
    }
    record.update(values)
    return record


def api_form(world: World, **values: Any) -> dict[str, Any]:
    """The same form as an API body (lists as JSON, no id unless given)."""
    body = form("unused", world)
    del body["id"]
    body["participants"] = json.loads(body["participants"])
    body["lead_photo_ids"] = json.loads(body["lead_photo_ids"])
    body.update(values)
    return body


def timetable_body(world: World, **values: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "community_id": str(world.community_a.id),
        "school_year": SCHOOL_YEAR,
        "term": 1,
        "subject": "数学",
        "lead_school_id": str(world.core_a.id),
        "lead_teacher_id": str(world.teacher_a.id),
        "lead_class_name": "四(1)班",
        "receivers": [{"school_id": str(world.member_a.id), "class_name": "四(2)班"}],
        "weekday": 3,
        "period": "第3节",
    }
    body.update(values)
    return body


def push(phone: Phone, table: str = "class_sessions", **ops: list[Any]) -> dict[str, Any]:
    """Pull, then push these changes of one table; the push's counters."""
    phone.pull()
    response = phone.push_request({table: {"created": [], "updated": [], "deleted": [], **ops}})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def stored(session: Session, record_id: str) -> ClassSession:
    [row] = fresh(session, sa.select(ClassSession).where(ClassSession.id == record_id))
    return row


# The photos the standard forms name (``form``; ``api-lead-1`` where a test names it).
STANDARD_PHOTOS = ("cs-lead-1", "cs-recv-1", "api-lead-1")


def received(session: Session, owner_id: Any, *photo_ids: str) -> None:
    """These photos arrived and passed processing (as media leaves a valid upload): only a
    received photo makes a form complete."""
    for photo_id in photo_ids:
        session.add(
            Photo(
                owner_id=owner_id,
                photo_id=photo_id,
                sha256=hashlib.sha256(f"{owner_id}/{photo_id}".encode()).hexdigest(),
                size=1024,
                declared_content_type="image/jpeg",
                backend="local",
                blob_key=f"test/{owner_id}/{photo_id}",
                status="valid",
                detected_format="JPEG",
                processed_at=utcnow(),
            )
        )
    session.flush()
