"""月考核: the host school's monthly grade of a seconded teacher (003 §四(三)4: "日常考勤
和月考核由接收学校负责").

The host school's admin grades a teacher it hosts, for a month that has begun, when one of
the teacher's active secondments at that school overlaps the month; the grade is
excellent / good / pass / fail, with optional grades under 德、能、勤、绩、学、廉 and a
comment. One assessment per teacher, host school and month (a constraint): a second PUT
revises it, and ``revision`` counts the revisions (the API's ETag comes from it, so two
admins cannot overwrite each other unseen).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance.day_models import MonthlyAssessment
from backend.auth.policy import Principal
from backend.errors import InvalidInput, NotFound, RuleViolation
from backend.exchange.models import Secondment

RULE = "003 §四(三)4"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> date | None:
    """The first day of a "YYYY-MM" month, or None if ``text`` is not one."""
    match = _MONTH.match(text)
    if match is None or not 2000 <= int(match.group(1)) <= 2100:
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_text(first: date) -> str:
    return first.strftime("%Y-%m")


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def secondment_for(
    session: Session, principal: Principal, teacher_id: uuid.UUID, month: date
) -> Secondment:
    """The secondment an assessment by ``principal`` (a host school's admin) is under.

    404 if the teacher was never seconded to the admin's school (not the admin's to see);
    422 ``month_not_started`` for a month that has not begun; 422
    ``no_secondment_that_month`` if no active secondment there overlaps the month. Of
    several (a teacher who left and came back), the one covering the latest day counts.
    """
    hosted = sa.select(Secondment).where(
        Secondment.teacher_id == teacher_id, Secondment.host_school_id == principal.school_id
    )
    if session.scalar(sa.select(hosted.exists())) is not True:
        raise NotFound(f"No teacher {teacher_id} seconded to your school")
    if month > clock.today():
        raise RuleViolation(
            f"{month_text(month)} has not begun: a month is assessed from its first day on",
            code="month_not_started",
            rule=RULE,
        )
    secondment = session.scalars(
        hosted.where(
            Secondment.status == "active",
            Secondment.start_on <= month_end(month),
            Secondment.end_on >= month,
        ).order_by(Secondment.end_on.desc(), Secondment.start_on.desc())
    ).first()
    if secondment is None:
        raise RuleViolation(
            f"the teacher had no active secondment at your school in {month_text(month)}",
            code="no_secondment_that_month",
            rule=RULE,
        )
    return secondment


def current(
    session: Session, teacher_id: uuid.UUID, host_school_id: uuid.UUID, month: date
) -> MonthlyAssessment | None:
    """The stored assessment, locked for the revision about to be made."""
    return session.scalars(
        sa.select(MonthlyAssessment)
        .where(
            MonthlyAssessment.teacher_id == teacher_id,
            MonthlyAssessment.host_school_id == host_school_id,
            MonthlyAssessment.month == month,
        )
        .with_for_update()
    ).one_or_none()


def record(
    session: Session,
    principal: Principal,
    secondment: Secondment,
    month: date,
    data: dict[str, Any],
    existing: MonthlyAssessment | None,
) -> MonthlyAssessment:
    """Create the assessment, or revise ``existing`` whole (a PUT replaces every field)."""
    values = {
        "secondment_id": secondment.id,
        "grade": data["grade"],
        "dimensions": dict(data.get("dimensions") or {}),
        "comment": data.get("comment", ""),
        "assessed_by_id": principal.user_id,
    }
    if existing is None:
        assessment = MonthlyAssessment(
            teacher_id=secondment.teacher_id,
            host_school_id=secondment.host_school_id,
            month=month,
            revision=1,
            **values,
        )
        session.add(assessment)
    else:
        assessment = existing
        for name, value in values.items():
            setattr(assessment, name, value)
        assessment.revision += 1
    session.flush()
    return assessment


def one_visible(rows: list[MonthlyAssessment], teacher_id: uuid.UUID) -> MonthlyAssessment:
    """The one assessment of a month the caller sees; a teacher who moved between host
    schools that month may have two, and then the caller names the host school."""
    if not rows:
        raise NotFound(f"No assessment of teacher {teacher_id} for that month")
    if len(rows) > 1:
        raise InvalidInput(
            "the teacher was assessed by more than one host school that month: name one",
            errors={"query": {"host_school_id": ["required: more than one host school"]}},
        )
    return rows[0]
