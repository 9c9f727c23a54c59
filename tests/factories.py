"""Factories: build domain data through the real services (no principal = the CLI's power)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from backend.auth.models import Device, User
from backend.auth.services import NewUser, create_user
from backend.auth.tokens import issue_access_token
from backend.exchange.models import Secondment, Teacher
from backend.exchange.services import create_secondment, create_teacher
from backend.extensions import settings_of
from backend.org.models import Community, Region, School
from backend.org.services import create_community, create_region, create_school

PASSWORD = "correct-horse-battery"
TERM_START = date(2026, 9, 1)
TERM_END = date(2029, 8, 31)
_seq = itertools.count(1)


def next_code(prefix: str) -> str:
    return f"{prefix}{next(_seq):05d}"


def region(
    session: Session, *, parent: Region | None = None, level: str = "county", name: str = ""
) -> Region:
    code = next_code("R")
    return create_region(
        session,
        code=code,
        name=name or f"region {code}",
        level=level,
        parent_id=parent.id if parent else None,
    )


def school(
    session: Session,
    region_: Region,
    *,
    students: int = 500,
    locality: str = "rural",
    kind: str = "primary",
    lat: float = 35.96,
    lon: float = 105.73,
    **extra: Any,
) -> School:
    code = next_code("S")
    data: dict[str, Any] = {
        "code": code,
        "name": f"school {code}",
        "kind": kind,
        "locality": locality,
        "student_count": students,
        "region_id": region_.id,
        "latitude": lat,
        "longitude": lon,
        "geofence_radius_m": 300,
        "fence_points": [],
        "note": "",
    }
    data.update(extra)
    return create_school(session, data)


def community(
    session: Session, region_: Region, core: School, members: list[School], **extra: Any
) -> Community:
    data: dict[str, Any] = {
        "name": f"community {next_code('C')}",
        "mode": "co_built",
        "region_id": region_.id,
        "core_school_id": core.id,
        "term_start": TERM_START,
        "term_end": TERM_END,
        "member_school_ids": [m.id for m in members],
    }
    data.update(extra)
    return create_community(session, data)


def teacher(session: Session, home: School, **extra: Any) -> Teacher:
    data: dict[str, Any] = {
        "staff_no": next_code("T"),
        "name": "张老师",
        "home_school_id": home.id,
        "subjects": ["数学"],
        "phone": "",
    }
    data.update(extra)
    return create_teacher(session, data)


def secondment(session: Session, teacher_: Teacher, host: School, **extra: Any) -> Secondment:
    data: dict[str, Any] = {
        "teacher_id": teacher_.id,
        "host_school_id": host.id,
        "kind": "support_teaching",
        "role": "teaching",
        "start_on": date(2026, 9, 1),
        "end_on": date(2027, 7, 15),
    }
    data.update(extra)
    return create_secondment(session, data)


def user(
    session: Session,
    app: Flask,
    role: str,
    *,
    teacher_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    region_id: uuid.UUID | None = None,
) -> User:
    new = NewUser(
        username=next_code("u"),
        password=PASSWORD,
        role=role,
        teacher_id=teacher_id,
        school_id=school_id,
        region_id=region_id,
    )
    return create_user(session, settings_of(app), new)


def bearer(session: Session, app: Flask, user_: User) -> dict[str, str]:
    """Headers with a fresh access token for ``user_`` on a new device (no login round trip)."""
    device = Device(user_id=user_.id, device_id=f"dev-{uuid.uuid4().hex[:12]}", device_name="test")
    session.add(device)
    session.flush()
    token = issue_access_token(settings_of(app), user_.id, device.id)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """Two counties of one city, each with a community, teachers, a secondment and logins.

    ``a`` objects are in county A, ``b`` objects in county B. Every role has a user in A
    and a counterpart in B, so each test can ask "own → 200, foreign → 404".
    """

    province: Region
    city: Region
    county_a: Region
    county_b: Region
    core_a: School
    member_a: School
    other_a: School  # in county A but in no community with core_a
    core_b: School
    member_b: School
    community_a: Community
    community_b: Community
    teacher_a: Teacher  # home core_a, seconded to member_a
    teacher_a2: Teacher  # home core_a, not seconded
    teacher_b: Teacher
    secondment_a: Secondment
    secondment_b: Secondment
    users: dict[str, User] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def world(session: Session, app: Flask) -> World:
    province = region(session, level="province")
    city = region(session, parent=province, level="city")
    county_a = region(session, parent=city)
    county_b = region(session, parent=city)
    core_a = school(session, county_a, locality="urban", students=2000)
    member_a = school(session, county_a, students=400)
    other_a = school(session, county_a, students=300)
    core_b = school(session, county_b, locality="urban", students=2500)
    member_b = school(session, county_b, students=350)
    community_a = community(session, county_a, core_a, [member_a])
    community_b = community(session, county_b, core_b, [member_b])
    teacher_a = teacher(session, core_a)
    teacher_a2 = teacher(session, core_a)
    teacher_b = teacher(session, core_b)
    w = World(
        province=province,
        city=city,
        county_a=county_a,
        county_b=county_b,
        core_a=core_a,
        member_a=member_a,
        other_a=other_a,
        core_b=core_b,
        member_b=member_b,
        community_a=community_a,
        community_b=community_b,
        teacher_a=teacher_a,
        teacher_a2=teacher_a2,
        teacher_b=teacher_b,
        secondment_a=secondment(session, teacher_a, member_a),
        secondment_b=secondment(session, teacher_b, member_b),
    )
    w.users = {
        "teacher_a": user(session, app, "teacher", teacher_id=teacher_a.id),
        "teacher_a2": user(session, app, "teacher", teacher_id=teacher_a2.id),
        "teacher_b": user(session, app, "teacher", teacher_id=teacher_b.id),
        "school_admin_a": user(session, app, "school_admin", school_id=core_a.id),
        "host_admin_a": user(session, app, "school_admin", school_id=member_a.id),
        "school_admin_b": user(session, app, "school_admin", school_id=core_b.id),
        "inspector_a": user(session, app, "inspector", region_id=county_a.id),
        "inspector_b": user(session, app, "inspector", region_id=county_b.id),
        "bureau_a": user(session, app, "bureau_admin", region_id=county_a.id),
        "bureau_b": user(session, app, "bureau_admin", region_id=county_b.id),
        "bureau_city": user(session, app, "bureau_admin", region_id=city.id),
    }
    w.headers = {name: bearer(session, app, u) for name, u in w.users.items()}
    return w


def committed_world(session: Session, app: Flask) -> World:
    """The world, committed (to the test's savepoint; the outer rollback stays).

    Committed so that no failing request can roll the setup back with it, and so that later
    server-side changes made in this session take journal serials of their own, as
    separate transactions would.
    """
    built = world(session, app)
    session.commit()
    return built


T = TypeVar("T")


def fresh(session: Session, stmt: sa.Select[T]) -> list[T]:
    """Rows as the database has them now, not as the test's session loaded them."""
    return list(session.scalars(stmt.execution_options(populate_existing=True)))
