"""The one place that decides who may read and write what.

Each (resource, action) maps each role that may ever do it to a *scope*: a SQL condition
on the resource's rows for that caller. Queries are built scoped — never fetch-then-check —
so an object outside the caller's scope simply is not found (404, its existence unleaked),
while a role that may never do an action at all gets 403.

Every view is wrapped by :func:`requires` (or marked :func:`public`); a test walks the
app's url map and fails on a route without a policy.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import Session, aliased

from backend.attendance.day_models import MonthlyAssessment, TeacherDay
from backend.attendance.models import CheckIn
from backend.attendance.request_models import LeaveRequest, PunchCorrection
from backend.attendance.rule_models import AttendanceRule
from backend.auth.models import Device, User
from backend.auth.tokens import decode_access_token
from backend.classes.models import ClassSession, TimetableEntry
from backend.db import Base
from backend.errors import AuthenticationFailed, NotFound, PermissionDenied
from backend.exchange.models import Secondment, Teacher
from backend.inspection.models import (
    InspectionPlan,
    InspectorConflict,
    SpotCheck,
    SpotCheckInspector,
    SpotCheckVisit,
)
from backend.org.models import Community, CommunityMembership, MembershipChange, Region, School
from backend.reports.models import HomeMonthReport, HostMonthReport, ReportRun
from backend.scoring.models import EvidenceItem, Rubric
from media.models import Photo

F = TypeVar("F", bound=Callable[..., Any])
Condition = sa.ColumnElement[bool]


class Resource(StrEnum):
    REGION = "region"
    SCHOOL = "school"
    COMMUNITY = "community"
    MEMBERSHIP_CHANGE = "membership_change"
    TEACHER = "teacher"
    SECONDMENT = "secondment"
    USER = "user"
    DEVICE = "device"
    # The workday calendar: a region's published holiday years and school calendar (rows
    # are regions), and a school's own exceptions (rows are schools).
    REGION_CALENDAR = "region_calendar"
    SCHOOL_CALENDAR = "school_calendar"
    # Attendance. Rows belong to a teacher and the host school that keeps their attendance
    # (003 §四(三)4); the home school reads what it pays from.
    ATTENDANCE_RULE = "attendance_rule"
    CHECK_IN = "check_in"
    LEAVE_REQUEST = "leave_request"
    PUNCH_CORRECTION = "punch_correction"
    TEACHER_DAY = "teacher_day"
    ASSESSMENT = "assessment"
    # Monthly reports: the host school's tally (confirmed by it), the home school's report
    # (acknowledged by it), and the runs that make them.
    HOST_REPORT = "host_report"
    HOME_REPORT = "home_report"
    REPORT_RUN = "report_run"
    # Random spot checks (双随机、一公开). A spot check is secret until visited: its
    # inspectors and the bureau see it; the inspected school only once it was visited;
    # teachers never.
    INSPECTION_PLAN = "inspection_plan"
    SPOT_CHECK = "spot_check"
    SPOT_CHECK_VISIT = "spot_check_visit"
    INSPECTOR_CONFLICT = "inspector_conflict"
    # Synchronized classes and community evidence (003 §四(四), attachment 2). Rows belong
    # to a community: its schools see and file them, the bureau above reviews and scores.
    TIMETABLE = "timetable"
    CLASS_SESSION = "class_session"
    EVIDENCE = "evidence"
    RUBRIC = "rubric"
    # A community's scorecard (rows are communities); APPROVE: scoring manual criteria.
    SCORECARD = "scorecard"


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    APPROVE = "approve"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user, the role's scope anchor, and the device in use."""

    user_id: uuid.UUID
    username: str
    role: str
    device_pk: uuid.UUID
    device_id: str = ""  # the app installation's own id (what X-Device-Id must say)
    teacher_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None
    region_path: str | None = None


# --- scope building blocks ---------------------------------------------------------------


def _regions_below(p: Principal) -> sa.Select[Any]:
    return sa.select(Region.id).where(
        Region.path.startswith(p.region_path or "\x00", autoescape=True)
    )


def _in_region(column: Any, p: Principal) -> Condition:
    condition: Condition = column.in_(_regions_below(p))
    return condition


def _schools_in_region(p: Principal) -> sa.Select[Any]:
    return sa.select(School.id).where(_in_region(School.region_id, p))


def _own_secondments(p: Principal) -> sa.Select[Any]:
    return sa.select(Secondment).where(Secondment.teacher_id == p.teacher_id)


def _teacher_schools(p: Principal) -> Condition:
    """A teacher's home school and the host schools of their secondments."""
    own = _own_secondments(p).subquery()
    home = sa.select(Teacher.home_school_id).where(Teacher.id == p.teacher_id)
    return sa.or_(
        School.id.in_(home),
        School.id.in_(sa.select(own.c.host_school_id)),
        School.id.in_(sa.select(own.c.home_school_id)),
    )


def _communities_of_school(school_id: uuid.UUID | None) -> sa.Select[Any]:
    """Communities the school belongs or belonged to (history stays visible to it)."""
    return sa.select(CommunityMembership.community_id).where(
        CommunityMembership.school_id == school_id
    )


def _current_communities_of_school(school_id: uuid.UUID | None) -> sa.Select[Any]:
    """Communities the school belongs to now: what it may still file or change for (its
    history stays readable, not writable)."""
    return sa.select(CommunityMembership.community_id).where(
        CommunityMembership.school_id == school_id, CommunityMembership.left_on.is_(None)
    )


def _community_partners(p: Principal) -> Condition:
    """The school itself and the schools it currently shares a community with."""
    current = sa.select(CommunityMembership.community_id).where(
        CommunityMembership.school_id == p.school_id, CommunityMembership.left_on.is_(None)
    )
    partners = sa.select(CommunityMembership.school_id).where(
        CommunityMembership.community_id.in_(current), CommunityMembership.left_on.is_(None)
    )
    return sa.or_(School.id == p.school_id, School.id.in_(partners))


def _teachers_hosted_by(school_id: uuid.UUID | None) -> sa.Select[Any]:
    return sa.select(Secondment.teacher_id).where(Secondment.host_school_id == school_id)


def _teachers_homed_at(school_id: uuid.UUID | None) -> sa.Select[Any]:
    return sa.select(Teacher.id).where(Teacher.home_school_id == school_id)


def _attendance_scopes(model: Any, *, write: bool = False) -> dict[str, ScopeFn]:
    """Who sees (or files) a teacher's attendance rows: the teacher, the host school that
    keeps them, the home school that pays from them (read only), the region above."""
    host: ScopeFn = (
        (lambda p: model.host_school_id == p.school_id)
        if write
        else (
            lambda p: sa.or_(
                model.host_school_id == p.school_id,
                model.teacher_id.in_(_teachers_homed_at(p.school_id)),
            )
        )
    )
    scopes: dict[str, ScopeFn] = {
        "bureau_admin": lambda p: model.host_school_id.in_(_schools_in_region(p)),
        "school_admin": host,
        "teacher": lambda p: model.teacher_id == p.teacher_id,
    }
    if not write:
        scopes["inspector"] = scopes["bureau_admin"]
    return scopes


def _deciders(model: Any) -> dict[str, ScopeFn]:
    """Who approves a teacher's requests or reviews their flags: the host school (and the
    bureau above it)."""
    return {
        "bureau_admin": lambda p: model.host_school_id.in_(_schools_in_region(p)),
        "school_admin": lambda p: model.host_school_id == p.school_id,
    }


def _users_of_region(p: Principal) -> Condition:
    schools = _schools_in_region(p)
    teachers = sa.select(Teacher.id).where(Teacher.home_school_id.in_(schools))
    return sa.or_(
        User.region_id.in_(_regions_below(p)),
        User.school_id.in_(schools),
        User.teacher_id.in_(teachers),
    )


def _users_of_school(p: Principal) -> Condition:
    return sa.or_(
        User.school_id == p.school_id, User.teacher_id.in_(_teachers_homed_at(p.school_id))
    )


def _ancestor_paths(path: str | None) -> list[str]:
    parts = (path or "").strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts)) if parts[i]]


def _calendar_regions(p: Principal) -> Condition:
    """The caller's regions and those above them: a region inherits their calendar."""
    return sa.or_(
        Region.path.startswith(p.region_path or "\x00", autoescape=True),
        Region.path.in_(_ancestor_paths(p.region_path)),
    )


def _regions_above(schools: Condition) -> Condition:
    """Regions containing one of ``schools`` (a condition on School): their calendars apply."""
    school_region = aliased(Region)
    return sa.exists(
        sa.select(School.id)
        .join(school_region, school_region.id == School.region_id)
        .where(schools, school_region.path.startswith(Region.path))
    )


def _rule_regions(p: Principal) -> Condition:
    """Rules of the caller's regions and those above (inherited), or of the regions of the
    schools the caller works with."""
    if p.region_path is not None:
        return AttendanceRule.region_id.in_(sa.select(Region.id).where(_calendar_regions(p)))
    schools = _teacher_schools(p) if p.role == "teacher" else _community_partners(p)
    return AttendanceRule.region_id.in_(sa.select(Region.id).where(_regions_above(schools)))


def _devices_of(users: Condition, p: Principal) -> Condition:
    return sa.or_(Device.user_id == p.user_id, Device.user_id.in_(sa.select(User.id).where(users)))


def _assigned_spot_checks(p: Principal) -> sa.Select[Any]:
    return sa.select(SpotCheckInspector.spot_check_id).where(
        SpotCheckInspector.inspector_id == p.user_id
    )


def _spot_checks_in_region(p: Principal) -> sa.Select[Any]:
    return sa.select(SpotCheck.id).where(
        SpotCheck.plan_id.in_(
            sa.select(InspectionPlan.id).where(_in_region(InspectionPlan.region_id, p))
        )
    )


def _visited_at_school(p: Principal) -> sa.Select[Any]:
    return sa.select(SpotCheck.id).where(
        SpotCheck.school_id == p.school_id, SpotCheck.status == "visited"
    )


def _inspectors_of_region(p: Principal) -> sa.Select[Any]:
    return sa.select(User.id).where(User.role == "inspector", User.region_id.in_(_regions_below(p)))


def _teacher_communities(p: Principal) -> sa.Select[Any]:
    """Communities of a teacher's secondments and of their home school."""
    home = sa.select(Teacher.home_school_id).where(Teacher.id == p.teacher_id)
    seconded = sa.select(Secondment.community_id).where(Secondment.teacher_id == p.teacher_id)
    return sa.select(Community.id).where(
        sa.or_(
            Community.id.in_(seconded),
            Community.id.in_(_communities_of_school(home.scalar_subquery())),  # type: ignore[arg-type]
        )
    )


def _community_scopes(column: Any, *, teachers: bool) -> dict[str, ScopeFn]:
    """Who sees a community's rows: the bureau and inspectors above it, its schools' admins
    (history included), and — where ``teachers`` — teachers of its schools."""
    in_region = sa.select(Community.id)
    scopes: dict[str, ScopeFn] = {
        **_each(
            OVERSIGHT, lambda p: column.in_(in_region.where(_in_region(Community.region_id, p)))
        ),
        "school_admin": lambda p: column.in_(_communities_of_school(p.school_id)),
    }
    if teachers:
        scopes["teacher"] = lambda p: column.in_(_teacher_communities(p))
    return scopes


def _bureau_of_community(column: Any) -> dict[str, ScopeFn]:
    return _each(
        BUREAU,
        lambda p: column.in_(sa.select(Community.id).where(_in_region(Community.region_id, p))),
    )


def _rubric_regions(p: Principal) -> Condition:
    """Rubrics of the caller's regions and those above (a county uses its city's)."""
    if p.region_path is not None:
        return Rubric.region_id.in_(sa.select(Region.id).where(_calendar_regions(p)))
    return Rubric.region_id.in_(sa.select(Region.id).where(_regions_above(_community_partners(p))))


ScopeFn = Callable[[Principal], Condition]
BUREAU = ("bureau_admin",)
OVERSIGHT = ("bureau_admin", "inspector")


def _each(roles: tuple[str, ...], fn: ScopeFn) -> dict[str, ScopeFn]:
    return dict.fromkeys(roles, fn)


POLICY: dict[tuple[Resource, Action], dict[str, ScopeFn]] = {
    (Resource.REGION, Action.READ): _each(
        OVERSIGHT, lambda p: Region.path.startswith(p.region_path or "\x00", autoescape=True)
    ),
    (Resource.REGION, Action.WRITE): _each(
        BUREAU, lambda p: Region.path.startswith(p.region_path or "\x00", autoescape=True)
    ),
    (Resource.SCHOOL, Action.READ): {
        **_each(OVERSIGHT, lambda p: _in_region(School.region_id, p)),
        "school_admin": _community_partners,
        "teacher": _teacher_schools,
    },
    (Resource.SCHOOL, Action.WRITE): {
        "bureau_admin": lambda p: _in_region(School.region_id, p),
        "school_admin": lambda p: School.id == p.school_id,
    },
    # The workday calendar. A region's holiday years and school calendar apply to the
    # regions below it, so they are readable from below as well as from above.
    (Resource.REGION_CALENDAR, Action.READ): {
        **_each(OVERSIGHT, _calendar_regions),
        "school_admin": lambda p: _regions_above(_community_partners(p)),
        "teacher": lambda p: _regions_above(_teacher_schools(p)),
    },
    (Resource.REGION_CALENDAR, Action.WRITE): _each(
        BUREAU, lambda p: Region.path.startswith(p.region_path or "\x00", autoescape=True)
    ),
    # A school's days: whoever sees the school; its exceptions: the bureau or its own admin.
    (Resource.SCHOOL_CALENDAR, Action.READ): {
        **_each(OVERSIGHT, lambda p: _in_region(School.region_id, p)),
        "school_admin": _community_partners,
        "teacher": _teacher_schools,
    },
    (Resource.SCHOOL_CALENDAR, Action.WRITE): {
        "bureau_admin": lambda p: _in_region(School.region_id, p),
        "school_admin": lambda p: School.id == p.school_id,
    },
    (Resource.COMMUNITY, Action.READ): {
        **_each(OVERSIGHT, lambda p: _in_region(Community.region_id, p)),
        "school_admin": lambda p: Community.id.in_(_communities_of_school(p.school_id)),
        "teacher": lambda p: sa.or_(
            Community.id.in_(sa.select(_own_secondments(p).subquery().c.community_id)),
            Community.id.in_(
                _communities_of_school(
                    sa.select(Teacher.home_school_id)
                    .where(Teacher.id == p.teacher_id)
                    .scalar_subquery()  # type: ignore[arg-type]
                )
            ),
        ),
    },
    (Resource.COMMUNITY, Action.WRITE): _each(BUREAU, lambda p: _in_region(Community.region_id, p)),
    (Resource.MEMBERSHIP_CHANGE, Action.READ): {
        **_each(
            OVERSIGHT,
            lambda p: MembershipChange.community_id.in_(
                sa.select(Community.id).where(_in_region(Community.region_id, p))
            ),
        ),
        "school_admin": lambda p: sa.or_(
            MembershipChange.school_id == p.school_id,
            MembershipChange.community_id.in_(
                sa.select(Community.id).where(Community.core_school_id == p.school_id)
            ),
        ),
    },
    (Resource.MEMBERSHIP_CHANGE, Action.WRITE): {
        "bureau_admin": lambda p: MembershipChange.community_id.in_(
            sa.select(Community.id).where(_in_region(Community.region_id, p))
        ),
        # A school asks to join or leave for itself (001 §15: "集团可…提出变更成员的申请").
        "school_admin": lambda p: MembershipChange.school_id == p.school_id,
    },
    (Resource.MEMBERSHIP_CHANGE, Action.APPROVE): _each(
        BUREAU,
        lambda p: MembershipChange.community_id.in_(
            sa.select(Community.id).where(_in_region(Community.region_id, p))
        ),
    ),
    (Resource.TEACHER, Action.READ): {
        **_each(OVERSIGHT, lambda p: Teacher.home_school_id.in_(_schools_in_region(p))),
        "school_admin": lambda p: sa.or_(
            Teacher.home_school_id == p.school_id, Teacher.id.in_(_teachers_hosted_by(p.school_id))
        ),
        "teacher": lambda p: Teacher.id == p.teacher_id,
    },
    (Resource.TEACHER, Action.WRITE): {
        "bureau_admin": lambda p: Teacher.home_school_id.in_(_schools_in_region(p)),
        "school_admin": lambda p: Teacher.home_school_id == p.school_id,
    },
    (Resource.SECONDMENT, Action.READ): {
        **_each(
            OVERSIGHT,
            lambda p: sa.or_(
                Secondment.home_school_id.in_(_schools_in_region(p)),
                Secondment.host_school_id.in_(_schools_in_region(p)),
            ),
        ),
        "school_admin": lambda p: sa.or_(
            Secondment.home_school_id == p.school_id, Secondment.host_school_id == p.school_id
        ),
        "teacher": lambda p: Secondment.teacher_id == p.teacher_id,
    },
    (Resource.SECONDMENT, Action.WRITE): _each(
        BUREAU,
        lambda p: sa.and_(
            Secondment.home_school_id.in_(_schools_in_region(p)),
            Secondment.host_school_id.in_(_schools_in_region(p)),
        ),
    ),
    (Resource.ATTENDANCE_RULE, Action.READ): _each(
        ("bureau_admin", "inspector", "school_admin", "teacher"), _rule_regions
    ),
    (Resource.ATTENDANCE_RULE, Action.WRITE): _each(
        BUREAU, lambda p: _in_region(AttendanceRule.region_id, p)
    ),
    (Resource.CHECK_IN, Action.READ): _attendance_scopes(CheckIn),
    # Reviewing a check-in's flags.
    (Resource.CHECK_IN, Action.APPROVE): _deciders(CheckIn),
    (Resource.LEAVE_REQUEST, Action.READ): _attendance_scopes(LeaveRequest),
    (Resource.LEAVE_REQUEST, Action.WRITE): _attendance_scopes(LeaveRequest, write=True),
    (Resource.LEAVE_REQUEST, Action.APPROVE): _deciders(LeaveRequest),
    (Resource.PUNCH_CORRECTION, Action.READ): _attendance_scopes(PunchCorrection),
    (Resource.PUNCH_CORRECTION, Action.WRITE): _attendance_scopes(PunchCorrection, write=True),
    (Resource.PUNCH_CORRECTION, Action.APPROVE): _deciders(PunchCorrection),
    (Resource.TEACHER_DAY, Action.READ): _attendance_scopes(TeacherDay),
    (Resource.ASSESSMENT, Action.READ): _attendance_scopes(MonthlyAssessment),
    (Resource.ASSESSMENT, Action.WRITE): {
        "school_admin": lambda p: MonthlyAssessment.host_school_id == p.school_id,
    },
    (Resource.HOST_REPORT, Action.READ): {
        **_each(OVERSIGHT, lambda p: HostMonthReport.school_id.in_(_schools_in_region(p))),
        "school_admin": lambda p: HostMonthReport.school_id == p.school_id,
    },
    # Confirming a host month, or asking for a tally of it.
    (Resource.HOST_REPORT, Action.APPROVE): {
        "bureau_admin": lambda p: HostMonthReport.school_id.in_(_schools_in_region(p)),
        "school_admin": lambda p: HostMonthReport.school_id == p.school_id,
    },
    (Resource.HOME_REPORT, Action.READ): {
        **_each(OVERSIGHT, lambda p: HomeMonthReport.school_id.in_(_schools_in_region(p))),
        "school_admin": lambda p: HomeMonthReport.school_id == p.school_id,
    },
    # Acknowledging receipt: the home school itself.
    (Resource.HOME_REPORT, Action.APPROVE): {
        "school_admin": lambda p: HomeMonthReport.school_id == p.school_id,
    },
    (Resource.REPORT_RUN, Action.READ): {
        **_each(OVERSIGHT, lambda p: ReportRun.school_id.in_(_schools_in_region(p))),
        "school_admin": lambda p: ReportRun.school_id == p.school_id,
    },
    (Resource.INSPECTION_PLAN, Action.READ): _each(
        BUREAU, lambda p: _in_region(InspectionPlan.region_id, p)
    ),
    # Creating and editing a plan; APPROVE: committing, drawing, revealing, cancelling it.
    (Resource.INSPECTION_PLAN, Action.WRITE): _each(
        BUREAU, lambda p: _in_region(InspectionPlan.region_id, p)
    ),
    (Resource.INSPECTION_PLAN, Action.APPROVE): _each(
        BUREAU, lambda p: _in_region(InspectionPlan.region_id, p)
    ),
    (Resource.SPOT_CHECK, Action.READ): {
        "bureau_admin": lambda p: SpotCheck.id.in_(_spot_checks_in_region(p)),
        "inspector": lambda p: SpotCheck.id.in_(_assigned_spot_checks(p)),
        "school_admin": lambda p: SpotCheck.id.in_(_visited_at_school(p)),
    },
    (Resource.SPOT_CHECK_VISIT, Action.READ): {
        "bureau_admin": lambda p: SpotCheckVisit.spot_check_id.in_(_spot_checks_in_region(p)),
        "inspector": lambda p: SpotCheckVisit.inspector_id == p.user_id,
        "school_admin": lambda p: SpotCheckVisit.spot_check_id.in_(_visited_at_school(p)),
    },
    (Resource.INSPECTOR_CONFLICT, Action.READ): _each(
        BUREAU, lambda p: InspectorConflict.inspector_id.in_(_inspectors_of_region(p))
    ),
    (Resource.INSPECTOR_CONFLICT, Action.WRITE): _each(
        BUREAU, lambda p: InspectorConflict.inspector_id.in_(_inspectors_of_region(p))
    ),
    (Resource.TIMETABLE, Action.READ): _community_scopes(
        TimetableEntry.community_id, teachers=True
    ),
    # The joint timetable is kept by the bureau and the community's core school.
    (Resource.TIMETABLE, Action.WRITE): {
        **_bureau_of_community(TimetableEntry.community_id),
        "school_admin": lambda p: TimetableEntry.community_id.in_(
            sa.select(Community.id).where(Community.core_school_id == p.school_id)
        ),
    },
    (Resource.CLASS_SESSION, Action.READ): _community_scopes(
        ClassSession.community_id, teachers=True
    ),
    (Resource.CLASS_SESSION, Action.WRITE): {
        "school_admin": lambda p: ClassSession.community_id.in_(
            _current_communities_of_school(p.school_id)
        ),
        "teacher": lambda p: ClassSession.community_id.in_(_teacher_communities(p)),
    },
    (Resource.CLASS_SESSION, Action.APPROVE): _bureau_of_community(ClassSession.community_id),
    (Resource.EVIDENCE, Action.READ): _community_scopes(EvidenceItem.community_id, teachers=False),
    (Resource.EVIDENCE, Action.WRITE): {
        "school_admin": lambda p: EvidenceItem.community_id.in_(
            _current_communities_of_school(p.school_id)
        ),
    },
    (Resource.EVIDENCE, Action.APPROVE): _bureau_of_community(EvidenceItem.community_id),
    (Resource.RUBRIC, Action.READ): _each(
        ("bureau_admin", "inspector", "school_admin"), _rubric_regions
    ),
    (Resource.RUBRIC, Action.WRITE): _each(BUREAU, lambda p: _in_region(Rubric.region_id, p)),
    (Resource.SCORECARD, Action.READ): _community_scopes(Community.id, teachers=False),
    (Resource.SCORECARD, Action.APPROVE): _bureau_of_community(Community.id),
    (Resource.USER, Action.READ): {
        "bureau_admin": _users_of_region,
        "school_admin": _users_of_school,
    },
    (Resource.USER, Action.WRITE): _each(BUREAU, _users_of_region),
    (Resource.DEVICE, Action.READ): {
        "bureau_admin": lambda p: _devices_of(_users_of_region(p), p),
        "school_admin": lambda p: _devices_of(_users_of_school(p), p),
        **_each(("inspector", "teacher"), lambda p: Device.user_id == p.user_id),
    },
    (Resource.DEVICE, Action.WRITE): {
        "bureau_admin": lambda p: _devices_of(_users_of_region(p), p),
        "school_admin": lambda p: _devices_of(_users_of_school(p), p),
        **_each(("inspector", "teacher"), lambda p: Device.user_id == p.user_id),
    },
}

MODELS: dict[Resource, type[Base]] = {
    Resource.REGION: Region,
    Resource.SCHOOL: School,
    Resource.COMMUNITY: Community,
    Resource.MEMBERSHIP_CHANGE: MembershipChange,
    Resource.TEACHER: Teacher,
    Resource.SECONDMENT: Secondment,
    Resource.USER: User,
    Resource.DEVICE: Device,
    Resource.REGION_CALENDAR: Region,
    Resource.SCHOOL_CALENDAR: School,
    Resource.ATTENDANCE_RULE: AttendanceRule,
    Resource.CHECK_IN: CheckIn,
    Resource.LEAVE_REQUEST: LeaveRequest,
    Resource.PUNCH_CORRECTION: PunchCorrection,
    Resource.TEACHER_DAY: TeacherDay,
    Resource.ASSESSMENT: MonthlyAssessment,
    Resource.HOST_REPORT: HostMonthReport,
    Resource.HOME_REPORT: HomeMonthReport,
    Resource.REPORT_RUN: ReportRun,
    Resource.INSPECTION_PLAN: InspectionPlan,
    Resource.SPOT_CHECK: SpotCheck,
    Resource.SPOT_CHECK_VISIT: SpotCheckVisit,
    Resource.INSPECTOR_CONFLICT: InspectorConflict,
    Resource.TIMETABLE: TimetableEntry,
    Resource.CLASS_SESSION: ClassSession,
    Resource.EVIDENCE: EvidenceItem,
    Resource.RUBRIC: Rubric,
    Resource.SCORECARD: Community,
}


def may(principal: Principal, resource: Resource, action: Action) -> bool:
    return principal.role in POLICY.get((resource, action), {})


def scope(principal: Principal, resource: Resource, action: Action) -> Condition:
    """The SQL condition selecting the rows of ``resource`` the caller may ``action``."""
    rules = POLICY.get((resource, action), {})
    rule = rules.get(principal.role)
    if rule is None:
        raise PermissionDenied(f"A {principal.role} may not {action} {resource} records")
    return rule(principal)


M = TypeVar("M", bound=Base)


def scoped_select(principal: Principal, resource: Resource, action: Action) -> sa.Select[Any]:
    model = MODELS[resource]
    return sa.select(model).where(scope(principal, resource, action))


def check_in_photos(principal: Principal) -> sa.Select[Any]:
    """Photos (media ``Photo.id``) named by check-ins the caller may read: whoever judges a
    punch sees its photo (the host school reviewing a flag, the bureau), not only the
    photographer's own school. A check-in names its photo by the teacher's client id."""
    if principal.role not in POLICY.get((Resource.CHECK_IN, Action.READ), {}):
        return sa.select(Photo.id).where(sa.false())
    return (
        sa.select(Photo.id)
        .join(User, User.id == Photo.owner_id)
        .join(
            CheckIn,
            sa.and_(CheckIn.teacher_id == User.teacher_id, CheckIn.photo_id == Photo.photo_id),
        )
        .where(scope(principal, Resource.CHECK_IN, Action.READ))
    )


def get_scoped(
    session: Session,
    principal: Principal,
    resource: Resource,
    action: Action,
    object_id: uuid.UUID | str,
    *,
    for_update: bool = False,
    live: bool = False,
) -> Any:
    """The object if it is within the caller's scope for ``action``; else 404. ``live``:
    a tombstone (``deleted_at`` set: withdrawn, left the scope of phones) is not found."""
    model = MODELS[resource]
    stmt = scoped_select(principal, resource, action).where(
        model.id == object_id  # type: ignore[attr-defined]
    )
    if live:
        stmt = stmt.where(model.deleted_at.is_(None))  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    obj = session.scalars(stmt).one_or_none()
    if obj is None:
        raise NotFound(f"No {resource.replace('_', ' ')} {object_id}")
    return obj


def in_scope(
    session: Session,
    principal: Principal,
    resource: Resource,
    action: Action,
    object_id: uuid.UUID,
) -> bool:
    model = MODELS[resource]
    stmt = sa.select(
        sa.exists().where(
            model.id == object_id,  # type: ignore[attr-defined]
            scope(principal, resource, action),
        )
    )
    return bool(session.scalar(stmt))


# --- authentication and the view decorators ---------------------------------------------


DEVICE_REVOKED = "This device was revoked by an administrator (lost phone); ask them to restore it"


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Missing bearer token", code="token_missing")
    return token.strip()


# Built once: every request runs it, and building a select costs more than running it.
_PRINCIPAL_QUERY = (
    sa.select(User, Device, Region.path)
    .join(Device, Device.user_id == User.id)
    .outerjoin(Region, Region.id == User.region_id)
    .where(User.id == sa.bindparam("user_id"), Device.id == sa.bindparam("device_pk"))
)


def authenticate(session: Session) -> Principal:
    """Resolve the bearer token to a principal; the device must be live, the user active."""
    from backend.extensions import settings_of  # local: extensions imports this module

    claims = decode_access_token(settings_of(current_app), _bearer_token())
    row = session.execute(
        _PRINCIPAL_QUERY, {"user_id": claims.user_id, "device_pk": claims.device_pk}
    ).one_or_none()
    if row is None:
        raise AuthenticationFailed("Invalid access token", code="token_invalid")
    user, device, region_path = row
    if not user.active:
        raise AuthenticationFailed("Account disabled", code="account_disabled")
    if device.revoked_at is not None:
        raise AuthenticationFailed(DEVICE_REVOKED, code="device_revoked")
    if device.sessions_ended_at is not None and claims.issued_at_ms < int(
        device.sessions_ended_at.timestamp() * 1000
    ):
        raise AuthenticationFailed("Logged out on this device; log in again", code="logged_out")
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        device_pk=device.id,
        device_id=device.device_id,
        teacher_id=user.teacher_id,
        school_id=user.school_id,
        region_id=user.region_id,
        region_path=region_path,
    )


def current_principal() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:  # pragma: no cover - a view without @requires is caught by a test
        raise AuthenticationFailed("Not authenticated")
    return principal


def requires(resource: Resource | None, action: Action | None = None) -> Callable[[F], F]:
    """Authenticate the caller and, when given, require that the role may ``action``.

    ``requires(None)`` means "any authenticated user"; the view then scopes by itself to
    the caller (e.g. ``/auth/me``).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from backend.db import db

            principal = authenticate(db.session)
            if resource is not None and action is not None and not may(principal, resource, action):
                raise PermissionDenied(f"A {principal.role} may not {action} {resource} records")
            g.principal = principal
            return view(*args, **kwargs)

        wrapper.__policy__ = (resource, action)  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def public(view: F) -> F:
    """Mark a view as needing no token (login, refresh, the API documents)."""
    view.__policy__ = "public"  # type: ignore[attr-defined]
    return view


def policy_of(view: Callable[..., Any]) -> object | None:
    return getattr(view, "__policy__", None)
