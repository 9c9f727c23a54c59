"""The community's joint timetable of synchronized classes (同步课堂"一张表", 000 §三(四)).

One table per community, school year and term: each entry is a subject taught live from a
lead school to receiving classes at member schools, on a weekly slot or on listed dates. It
is kept by the community's core school and the bureau above it (the central policy's
``TIMETABLE`` WRITE); every school and teacher of the community reads it, and phones pull it
(``sync.class_tables``).

Also here, because class reports share them: the school year and its terms, the schools that
are members of a community now, and whether a caller's scope for a community's records
covers a community a new record names. Services flush, never commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from backend.auth.policy import Action, Principal, Resource, in_scope, scope
from backend.classes.models import TERMS, ClassSession, TimetableEntry
from backend.db import utcnow
from backend.errors import InvalidInput, PermissionDenied, RuleViolation
from backend.exchange.models import Teacher
from backend.org.models import CommunityMembership

SUBJECT_MAX = 50
CLASS_NAME_MAX = 50
PERIOD_MAX = 50
NOTE_MAX = 1000
MAX_RECEIVERS = 20
MAX_DATES = 200
# A school year is named by the year it starts; anything outside this is a typo.
FIRST_SCHOOL_YEAR, LAST_SCHOOL_YEAR = 2000, 2100
RULE = "000 §三(四)"  # the joint timetable


# --- errors ---------------------------------------------------------------------------------------


class InvalidTimetableField(InvalidInput):
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class SchoolNotInCommunity(RuleViolation):
    code = "school_not_in_community"


class UnknownCommunity(InvalidInput):
    code = "unknown_community"


class UnknownTeacher(InvalidInput):
    code = "unknown_teacher"


class DateOutsideTerm(RuleViolation):
    code = "date_outside_term"


# --- the school year ------------------------------------------------------------------------------


def school_year_of(day: date) -> int:
    """The school year ``day`` falls in (named by its start year: 2026 is 2026–27)."""
    return day.year if day.month >= 9 else day.year - 1


def term_bounds(school_year: int, term: int) -> tuple[date, date]:
    """First and last day of a term: 1 is September–January, 2 February–August."""
    if term == 1:
        return date(school_year, 9, 1), date(school_year + 1, 1, 31)
    return date(school_year + 1, 2, 1), date(school_year + 1, 8, 31)


def year_bounds(school_year: int) -> tuple[date, date]:
    return date(school_year, 9, 1), date(school_year + 1, 8, 31)


# --- community membership and scope ---------------------------------------------------------------


def current_members(session: Session, community_id: uuid.UUID) -> set[uuid.UUID]:
    """Schools in the community now (a school that left no longer teaches its classes)."""
    return set(
        session.scalars(
            sa.select(CommunityMembership.school_id).where(
                CommunityMembership.community_id == community_id,
                CommunityMembership.left_on.is_(None),
            )
        )
    )


def scope_covers(
    session: Session,
    principal: Principal,
    resource: Resource,
    action: Action,
    community_id: uuid.UUID,
) -> bool:
    """Whether a record of ``resource`` in this community would be in the caller's scope.

    The policy's scopes are conditions on stored rows' ``community_id``; a record not stored
    yet (a phone's push is inserted in bulk later) is judged by the same condition with its
    community put in place of the column, so the policy stays the one place that decides.
    """
    condition = scope(principal, resource, action)
    model = ClassSession if resource is Resource.CLASS_SESSION else TimetableEntry
    column = model.__table__.c.community_id

    def replace(element: Any, **_: Any) -> Any:
        if getattr(element, "table", None) is column.table and getattr(element, "key", "") == (
            column.key
        ):
            return sa.literal(community_id, sa.Uuid())
        return None

    bound: sa.ColumnElement[bool] = visitors.replacement_traverse(condition, {}, replace)
    return session.scalar(sa.select(sa.literal(True)).where(bound)) is not None


def check_schools(
    members: set[uuid.UUID], lead: uuid.UUID, receivers: list[uuid.UUID], what: str
) -> None:
    if lead not in members:
        raise SchoolNotInCommunity(
            f"lead school {lead} is not a member of the community", field="lead_school_id"
        )
    for index, school_id in enumerate(receivers):
        if school_id not in members:
            raise SchoolNotInCommunity(
                f"{what}[{index}]: school {school_id} is not a member of the community",
                field=what,
            )


def check_teacher(session: Session, teacher_id: uuid.UUID | None) -> None:
    if teacher_id is not None and session.get(Teacher, teacher_id) is None:
        raise UnknownTeacher(f"no teacher {teacher_id}", field="lead_teacher_id")


# --- cleaning -------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidTimetableField(name, "is required")
    if len(text) > limit:
        raise InvalidTimetableField(name, f"is longer than {limit} characters")
    return text


def _uuid(value: Any, name: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise InvalidTimetableField(name, "must be a UUID") from exc


def _receivers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InvalidTimetableField("receivers", "must name at least one receiving class")
    if len(value) > MAX_RECEIVERS:
        raise InvalidTimetableField("receivers", f"at most {MAX_RECEIVERS} receiving classes")
    cleaned: list[dict[str, str]] = []
    for index, item in enumerate(value):
        name = f"receivers[{index}]"
        if not isinstance(item, dict):
            raise InvalidTimetableField(name, "must be {school_id, class_name}")
        school_id = _uuid(item.get("school_id"), f"{name}.school_id")
        class_name = _text(item, "class_name", CLASS_NAME_MAX)
        entry = {"school_id": str(school_id), "class_name": class_name}
        if entry in cleaned:
            raise InvalidTimetableField(name, "names the same class twice")
        cleaned.append(entry)
    return cleaned


def _dates(value: Any, school_year: int, term: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_DATES:
        raise InvalidTimetableField("dates", f"must be a list of at most {MAX_DATES} ISO dates")
    first, last = term_bounds(school_year, term)
    days: list[date] = []
    for index, item in enumerate(value):
        try:
            day = item if isinstance(item, date) else date.fromisoformat(str(item))
        except ValueError as exc:
            raise InvalidTimetableField(f"dates[{index}]", "must be YYYY-MM-DD") from exc
        if not first <= day <= last:
            raise DateOutsideTerm(
                f"dates[{index}]: {day.isoformat()} is outside term {term} of school year"
                f" {school_year} ({first.isoformat()} to {last.isoformat()})",
                field="dates",
            )
        days.append(day)
    return [d.isoformat() for d in sorted(set(days))]


def clean_entry(data: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's values, typed and range-checked (the whole entry: a PATCH merges first)."""
    school_year = data.get("school_year")
    if (
        not isinstance(school_year, int)
        or isinstance(school_year, bool)
        or not FIRST_SCHOOL_YEAR <= school_year <= LAST_SCHOOL_YEAR
    ):
        raise InvalidTimetableField(
            "school_year", f"must be the year it starts, {FIRST_SCHOOL_YEAR}–{LAST_SCHOOL_YEAR}"
        )
    term = data.get("term")
    if term not in TERMS or isinstance(term, bool):
        raise InvalidTimetableField("term", "must be 1 (autumn) or 2 (spring)")
    weekday = data.get("weekday")
    if weekday is not None and (
        not isinstance(weekday, int) or isinstance(weekday, bool) or not 1 <= weekday <= 7
    ):
        raise InvalidTimetableField("weekday", "must be 1 (Monday) to 7 (Sunday)")
    dates = _dates(data.get("dates"), school_year, term)
    if weekday is None and not dates:
        raise InvalidTimetableField("weekday", "give a weekday, or the dates of the sessions")
    lead_teacher = data.get("lead_teacher_id")
    return {
        "community_id": _uuid(data.get("community_id"), "community_id"),
        "school_year": school_year,
        "term": term,
        "subject": _text(data, "subject", SUBJECT_MAX, required=True),
        "lead_school_id": _uuid(data.get("lead_school_id"), "lead_school_id"),
        "lead_teacher_id": None if lead_teacher is None else _uuid(lead_teacher, "lead_teacher_id"),
        "lead_class_name": _text(data, "lead_class_name", CLASS_NAME_MAX),
        "receivers": _receivers(data.get("receivers")),
        "weekday": weekday,
        "period": _text(data, "period", PERIOD_MAX),
        "dates": dates,
        "note": _text(data, "note", NOTE_MAX),
    }


# --- services -------------------------------------------------------------------------------------


def _check(session: Session, principal: Principal, values: Mapping[str, Any]) -> None:
    community_id = values["community_id"]
    if not in_scope(session, principal, Resource.COMMUNITY, Action.READ, community_id):
        raise UnknownCommunity(
            f"community {community_id} not found in your scope", field="community_id"
        )
    if not scope_covers(session, principal, Resource.TIMETABLE, Action.WRITE, community_id):
        raise PermissionDenied(
            "the joint timetable is kept by the community's core school and the bureau",
            rule=RULE,
        )
    check_schools(
        current_members(session, community_id),
        values["lead_school_id"],
        [uuid.UUID(r["school_id"]) for r in values["receivers"]],
        "receivers",
    )
    check_teacher(session, values["lead_teacher_id"])


def create_entry(session: Session, principal: Principal, data: Mapping[str, Any]) -> TimetableEntry:
    values = clean_entry(data)
    _check(session, principal, values)
    entry = TimetableEntry(**values)
    session.add(entry)
    session.flush()
    return entry


def stored_values(entry: TimetableEntry) -> dict[str, Any]:
    return {
        name: getattr(entry, name)
        for name in (
            "community_id",
            "school_year",
            "term",
            "subject",
            "lead_school_id",
            "lead_teacher_id",
            "lead_class_name",
            "receivers",
            "weekday",
            "period",
            "dates",
            "note",
        )
    }


def revise_entry(
    session: Session, principal: Principal, entry: TimetableEntry, changes: Mapping[str, Any]
) -> TimetableEntry:
    """Apply a PATCH: the entry as it would stand is checked whole."""
    values = clean_entry({**stored_values(entry), **changes})
    if values["community_id"] != entry.community_id:
        raise InvalidTimetableField("community_id", "an entry stays in its community")
    _check(session, principal, values)
    for name, value in values.items():
        if getattr(entry, name) != value:
            setattr(entry, name, value)
    session.flush()
    return entry


def remove_entry(session: Session, entry: TimetableEntry) -> None:
    """A tombstone: phones drop it, and reports already filed against it keep their link."""
    if entry.deleted_at is None:
        entry.deleted_at = utcnow()
    session.flush()


def receivers_json(entry: TimetableEntry) -> str:
    return json.dumps(list(entry.receivers), ensure_ascii=False)
