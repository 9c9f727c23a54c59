"""Teacher and secondment services, with the secondment rules of 003 §四(三).

- host ≠ home;
- no two active secondments of one teacher overlap (PostgreSQL also enforces it with an
  exclusion constraint, so concurrent requests cannot race past this check);
- host and home belong to one community on the first day, unless the bureau marks an
  exception (with a reason);
- at most two extensions, each of at most one school year.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock
from backend.auth.policy import Action, Principal, Resource, in_scope
from backend.errors import Conflict, InvalidInput, RuleViolation
from backend.events import secondment_changed
from backend.exchange.models import MAX_EXTENSIONS, Secondment, SecondmentExtension, Teacher
from backend.org.services import school_in_scope, shared_community

RULE = "003 §四(三)"
ONE_SCHOOL_YEAR = timedelta(days=366)


# --- teachers -----------------------------------------------------------------------------


def create_teacher(
    session: Session, data: dict[str, Any], principal: Principal | None = None
) -> Teacher:
    # Whoever may write a school's data may register its teachers.
    school_in_scope(session, principal, data["home_school_id"], "home_school_id", Action.WRITE)
    if session.scalar(sa.select(sa.exists().where(Teacher.staff_no == data["staff_no"]))):
        raise Conflict(f"staff number {data['staff_no']!r} exists", field="staff_no")
    teacher = Teacher(**data)
    session.add(teacher)
    session.flush()
    return teacher


def update_teacher(
    session: Session, principal: Principal, teacher: Teacher, changes: dict[str, Any]
) -> Teacher:
    if "home_school_id" in changes and changes["home_school_id"] != teacher.home_school_id:
        school_in_scope(
            session, principal, changes["home_school_id"], "home_school_id", Action.WRITE
        )
        # Current and future secondments only: one that has ended keeps its own home school.
        ongoing = _active_secondments(session, teacher.id, ending_from=clock.today())
        if ongoing.first() is not None:
            raise RuleViolation(
                "a seconded teacher's post stays at the home school; end the secondment first",
                rule=RULE,
            )
    for key, value in changes.items():
        setattr(teacher, key, value)
    session.flush()
    return teacher


# --- secondments --------------------------------------------------------------------------


def _active_secondments(
    session: Session, teacher_id: uuid.UUID, *, ending_from: date | None = None
) -> sa.ScalarResult[Secondment]:
    stmt = sa.select(Secondment).where(
        Secondment.teacher_id == teacher_id, Secondment.status == "active"
    )
    if ending_from is not None:
        stmt = stmt.where(Secondment.end_on >= ending_from)
    return session.scalars(stmt)


def _check_no_overlap(
    session: Session, teacher_id: uuid.UUID, start: date, end: date, exclude: uuid.UUID | None
) -> None:
    stmt = sa.select(Secondment).where(
        Secondment.teacher_id == teacher_id,
        Secondment.status == "active",
        Secondment.start_on <= end,
        Secondment.end_on >= start,
    )
    if exclude is not None:
        stmt = stmt.where(Secondment.id != exclude)
    clash = session.scalars(stmt.limit(1)).first()
    if clash is not None:
        raise RuleViolation(
            f"the teacher is already seconded from {clash.start_on} to {clash.end_on};"
            " secondments of one teacher may not overlap",
            rule=RULE,
        )


def create_secondment(
    session: Session, data: dict[str, Any], principal: Principal | None = None
) -> Secondment:
    if principal is not None and not in_scope(
        session, principal, Resource.TEACHER, Action.WRITE, data["teacher_id"]
    ):
        raise InvalidInput(
            f"teacher {data['teacher_id']} not found in your scope", field="teacher_id"
        )
    teacher = session.get(Teacher, data["teacher_id"], with_for_update=True)
    if teacher is None:
        raise InvalidInput(f"teacher {data['teacher_id']} not found", field="teacher_id")
    home_id = data.get("home_school_id") or teacher.home_school_id
    if home_id != teacher.home_school_id:
        raise RuleViolation(
            "the home school is the teacher's own school (their post stays there)", rule=RULE
        )
    host = school_in_scope(
        session, principal, data["host_school_id"], "host_school_id", Action.READ
    )
    if host.id == home_id:
        raise RuleViolation("the host school must differ from the home school", rule=RULE)
    start, end = data["start_on"], data["end_on"]
    if end <= start:
        raise InvalidInput("end_on must be after start_on", field="end_on")
    _check_no_overlap(session, teacher.id, start, end, exclude=None)
    community_id = shared_community(session, home_id, host.id, start)
    exception = bool(data.get("cross_community_exception"))
    if community_id is None and not exception:
        raise RuleViolation(
            "host and home school are not in one community on the start date;"
            " the bureau may mark an exception with a reason",
            rule=RULE,
        )
    if exception and not data.get("exception_reason"):
        raise InvalidInput("an exception needs a reason", field="exception_reason")
    secondment = Secondment(
        teacher_id=teacher.id,
        home_school_id=home_id,
        host_school_id=host.id,
        community_id=community_id,
        kind=data["kind"],
        role=data["role"],
        start_on=start,
        end_on=end,
        original_end_on=end,
        cross_community_exception=exception,
        exception_reason=data.get("exception_reason", ""),
    )
    session.add(secondment)
    session.flush()
    secondment_changed.send(
        session, teacher_id=teacher.id, start_on=start, end_on=end, what=f"{secondment.id} created"
    )
    return secondment


def extend_secondment(
    session: Session,
    principal: Principal | None,
    secondment: Secondment,
    new_end_on: date,
    reason: str,
) -> Secondment:
    if secondment.status != "active":
        raise Conflict("only an active secondment can be extended")
    if secondment.extension_count >= MAX_EXTENSIONS:
        raise RuleViolation(
            f"a secondment may be extended at most {MAX_EXTENSIONS} times", rule=RULE
        )
    if new_end_on <= secondment.end_on:
        raise InvalidInput("new_end_on must be after the current end", field="new_end_on")
    if new_end_on - secondment.end_on > ONE_SCHOOL_YEAR:
        raise RuleViolation("each extension adds at most one school year", rule=RULE)
    _check_no_overlap(
        session, secondment.teacher_id, secondment.start_on, new_end_on, exclude=secondment.id
    )
    session.add(
        SecondmentExtension(
            secondment_id=secondment.id,
            seq=secondment.extension_count + 1,
            previous_end_on=secondment.end_on,
            new_end_on=new_end_on,
            reason=reason,
            approved_by_id=principal.user_id if principal else None,
        )
    )
    secondment.extension_count += 1
    previous_end = secondment.end_on
    secondment.end_on = new_end_on
    session.flush()
    secondment_changed.send(
        session,
        teacher_id=secondment.teacher_id,
        start_on=previous_end,
        end_on=new_end_on,
        what=f"{secondment.id} extended to {new_end_on}",
    )
    session.refresh(secondment, ["extensions"])
    return secondment


def cancel_secondment(session: Session, secondment: Secondment, reason: str) -> Secondment:
    if secondment.status == "cancelled":
        raise Conflict("the secondment is already cancelled")
    secondment.status = "cancelled"
    secondment.cancel_reason = reason
    session.flush()
    secondment_changed.send(
        session,
        teacher_id=secondment.teacher_id,
        start_on=secondment.start_on,
        end_on=secondment.end_on,
        what=f"{secondment.id} cancelled",
    )
    return secondment
