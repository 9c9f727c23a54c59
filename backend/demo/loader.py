"""Load the demo county: Xiji's 11 communities (003 附件1) and Lianyun's pairings (002 附件1).

Idempotent: every object is looked up by its natural key (code, name, staff number,
username) and created only when missing, so running it twice changes nothing. Teachers
and secondments are generated (the seeds list schools, not people): in each community the
core school seconds two teachers to its first members and a member school sends one
teacher to the core to shadow (003: exchange runs both ways).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.auth.models import User
from backend.auth.services import NewUser, create_user
from backend.clock import today
from backend.demo.seed_lists import COMMUNITIES, REGIONS, SCHOOLS, SUBJECTS, TEACHER_NAMES
from backend.exchange.models import Secondment, Teacher
from backend.exchange.services import create_secondment, create_teacher
from backend.extensions import settings_of
from backend.org.models import Community, Region, School
from backend.org.services import create_community, create_region, create_school

TERM_START = date(2026, 9, 1)  # 002: effective from the autumn term
TERM_END = date(2029, 8, 31)  # 000: three-year rotation
SCHOOL_YEAR_END = date(2027, 7, 15)


def _by(session: Session, model: Any, column: Any, value: str) -> Any:
    return session.scalars(sa.select(model).where(column == value)).one_or_none()


def _regions(session: Session) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    for seed in REGIONS:
        found = _by(session, Region, Region.code, seed.code)
        if found is None:
            parent = regions[seed.parent_code] if seed.parent_code else None
            found = create_region(
                session,
                code=seed.code,
                name=seed.name,
                level=seed.level,
                parent_id=parent.id if parent else None,
            )
        regions[seed.code] = found
    return regions


def _schools(session: Session, regions: dict[str, Region]) -> dict[str, School]:
    schools: dict[str, School] = {}
    for seed in SCHOOLS:
        found = _by(session, School, School.code, seed.code)
        if found is None:
            found = create_school(
                session,
                {
                    "code": seed.code,
                    "name": seed.name,
                    "kind": seed.kind,
                    "locality": seed.locality,
                    "student_count": seed.student_count,
                    "region_id": regions[seed.region_code].id,
                    "latitude": seed.latitude,
                    "longitude": seed.longitude,
                    "geofence_radius_m": 300 if seed.locality == "urban" else 200,
                    "note": seed.note,
                },
            )
        schools[seed.code] = found
    return schools


def _teacher(session: Session, staff_no: str, home: School, n: int) -> Teacher:
    found: Teacher | None = _by(session, Teacher, Teacher.staff_no, staff_no)
    if found is not None:
        return found
    return create_teacher(
        session,
        {
            "staff_no": staff_no,
            "name": TEACHER_NAMES[n % len(TEACHER_NAMES)],
            "home_school_id": home.id,
            "subjects": [SUBJECTS[n % len(SUBJECTS)]],
            "phone": f"139{n:08d}",
        },
    )


def _second(session: Session, teacher: Teacher, host: School, kind: str, role: str) -> None:
    exists = session.scalar(sa.select(sa.exists().where(Secondment.teacher_id == teacher.id)))
    if not exists:
        create_secondment(
            session,
            {
                "teacher_id": teacher.id,
                "host_school_id": host.id,
                "kind": kind,
                "role": role,
                "start_on": TERM_START,
                "end_on": SCHOOL_YEAR_END,
            },
        )


def _communities(
    session: Session, regions: dict[str, Region], schools: dict[str, School]
) -> list[tuple[Community, list[Teacher]]]:
    result = []
    n = 0
    for index, seed in enumerate(COMMUNITIES, start=1):
        community = _by(session, Community, Community.name, seed.name)
        if community is None:
            community = create_community(
                session,
                {
                    "name": seed.name,
                    "mode": seed.mode,
                    "region_id": regions[seed.region_code].id,
                    "core_school_id": schools[seed.core_school].id,
                    "term_start": TERM_START,
                    "term_end": TERM_END,
                    "member_school_ids": [schools[c].id for c in seed.member_schools],
                },
            )
        core = schools[seed.core_school]
        members = [schools[c] for c in seed.member_schools]
        teachers = []
        # Two city teachers go out to the first members (one as a manager, 001: managers too).
        for slot, (host, role) in enumerate(
            zip(members[:2], ("teaching", "management"), strict=False)
        ):
            n += 1
            t = _teacher(session, f"D{index:02d}-{slot + 1}", core, n)
            _second(session, t, host, "support_teaching", role)
            teachers.append(t)
        if members:
            n += 1
            t = _teacher(session, f"D{index:02d}-9", members[0], n)
            _second(session, t, core, "shadowing", "teaching")
            teachers.append(t)
        result.append((community, teachers))
    return result


def _login(
    session: Session, app: Flask, password: str, username: str, role: str, scope: str, **anchor: Any
) -> dict[str, str]:
    if _by(session, User, User.username, username) is None:
        create_user(
            session,
            settings_of(app),
            NewUser(username=username, password=password, role=role, **anchor),
        )
    return {"role": role, "username": username, "password": password, "scope": scope}


def load_demo(session: Session, app: Flask, password: str) -> list[dict[str, str]]:
    """Create what is missing of the demo county and return its logins."""
    regions = _regions(session)
    schools = _schools(session, regions)
    communities = _communities(session, regions, schools)
    xiji, lianyun = regions["640422"], regions["320703"]
    first_community, first_teachers = communities[0]
    core = session.get(School, first_community.core_school_id)
    host = session.get(School, first_teachers[0].home_school_id)
    assert core is not None and host is not None
    host_school = session.scalar(
        sa.select(School)
        .join(Secondment, Secondment.host_school_id == School.id)
        .where(Secondment.teacher_id == first_teachers[0].id)
    )
    assert host_school is not None
    # The last week judged, so the month view and the daily board have days to show.
    daybook.close_days(session, today() - timedelta(days=1), days_back=7)
    return [
        _login(
            session,
            app,
            password,
            "bureau.xiji",
            "bureau_admin",
            f"{xiji.name} (640422)",
            region_id=xiji.id,
        ),
        _login(
            session,
            app,
            password,
            "bureau.lianyun",
            "bureau_admin",
            f"{lianyun.name} (320703)",
            region_id=lianyun.id,
        ),
        # Two: a spot check sends at least two inspectors (双随机), so a demo plan draws.
        *[
            _login(
                session,
                app,
                password,
                username,
                "inspector",
                f"{xiji.name} (640422)",
                region_id=xiji.id,
            )
            for username in ("inspector.xiji", "inspector.xiji2")
        ],
        _login(
            session,
            app,
            password,
            "admin.home",
            "school_admin",
            f"{core.name} (home school)",
            school_id=core.id,
        ),
        _login(
            session,
            app,
            password,
            "admin.host",
            "school_admin",
            f"{host_school.name} (host school)",
            school_id=host_school.id,
        ),
        *[
            _login(
                session,
                app,
                password,
                f"teacher.{t.staff_no.lower()}",
                "teacher",
                f"{t.name}, {t.staff_no}",
                teacher_id=t.id,
            )
            for t in first_teachers
        ],
    ]
