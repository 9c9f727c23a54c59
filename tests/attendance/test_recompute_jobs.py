"""Inputs many teachers share (the calendar) re-derive stored days through jobs; the
nightly close stores each day once it is over."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.attendance.day_models import TeacherDay, TeacherDayChange
from backend.attendance.jobs import close_days
from backend.db import database_of
from backend.jobs import enqueue_after_commit
from tests.attendance.test_daybook import _workday_before
from tests.factories import World


def _stored(session: Session, world: World) -> dict[str, TeacherDay]:
    session.expire_all()
    rows = session.scalars(sa.select(TeacherDay).where(TeacherDay.teacher_id == world.teacher_a.id))
    return {row.day.isoformat(): row for row in rows}


def test_the_nightly_close_stores_past_days_for_every_seconded_teacher(
    app: Flask, session: Session, world: World
) -> None:
    day = _workday_before(2)
    with app.app_context(), database_of(app).unit_of_work() as uow:
        enqueue_after_commit(uow, close_days, through=day.isoformat())
    stored = _stored(session, world)
    assert stored[day.isoformat()].status == "absent"
    assert len(stored) == 8  # the closed day and the seven before it
    others = session.scalar(
        sa.select(sa.func.count()).where(TeacherDay.teacher_id == world.teacher_b.id)
    )
    assert others == 8


def test_closing_a_school_for_a_past_day_is_taken_in(
    client: FlaskClient, session: Session, world: World
) -> None:
    day = _workday_before(3)
    daybook.close_days(session, day, days_back=0)
    session.commit()
    assert _stored(session, world)[day.isoformat()].status == "absent"
    response = client.post(
        f"/api/v1/calendar/schools/{world.member_a.id}/exceptions",
        json={
            "kind": "closed",
            "start_on": day.isoformat(),
            "end_on": day.isoformat(),
            "reason": "暴雨停课",
        },
        headers=world.headers["host_admin_a"],
    )
    assert response.status_code == 201, response.json
    row = _stored(session, world)[day.isoformat()]
    assert (row.status, row.day_name) == ("non_workday", "暴雨停课")
    change = session.scalars(
        sa.select(TeacherDayChange)
        .where(TeacherDayChange.teacher_day_id == row.id)
        .order_by(TeacherDayChange.version.desc())
    ).first()
    assert change is not None and change.cause.startswith("calendar changed:")
    # teacher_b's host school is another one: its day is untouched.
    other = session.scalars(
        sa.select(TeacherDay).where(
            TeacherDay.teacher_id == world.teacher_b.id, TeacherDay.day == day
        )
    ).one()
    assert other.status == "absent" and other.version == 1
