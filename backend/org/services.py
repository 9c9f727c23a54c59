"""Org services: regions, schools, communities and the membership rules.

Rule 001 §15: a group covers at most 9 schools (campuses included) and at most 15,000
students. It is checked whenever a school joins a community and whenever a member school's
student count grows; the community row is locked first, so two concurrent approvals
cannot both squeeze under the cap.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from backend import clock
from backend.auth.policy import Action, Principal, Resource, get_scoped, in_scope, scope
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput, NotFound, RuleViolation
from backend.geo import gcj02_to_wgs84
from backend.org.models import (
    Community,
    CommunityMembership,
    FencePoint,
    MembershipChange,
    Region,
    School,
)

MAX_SCHOOLS_PER_COMMUNITY = 9
MAX_STUDENTS_PER_COMMUNITY = 15_000
CAP_RULE = "001 §15"
APPROVAL_RULE = "001 §7"


# --- regions ------------------------------------------------------------------------------


def create_region(
    session: Session,
    *,
    code: str,
    name: str,
    level: str,
    parent_id: uuid.UUID | None,
    principal: Principal | None = None,
) -> Region:
    """A region below ``parent_id``; a principal may only add below regions in its scope."""
    parent: Region | None = None
    if parent_id is not None:
        if principal is None or in_scope(
            session, principal, Resource.REGION, Action.WRITE, parent_id
        ):
            parent = session.get(Region, parent_id)
        if parent is None:
            raise InvalidInput(
                f"parent region {parent_id} not found in your scope", field="parent_id"
            )
    elif principal is not None:
        raise InvalidInput("a top-level region is created with the CLI", field="parent_id")
    if not code.isascii() or not code.isalnum():
        # Codes become path segments matched by prefix: no separators, no LIKE wildcards.
        raise InvalidInput("a region code is letters and digits only", field="code")
    if session.scalar(sa.select(sa.exists().where(Region.code == code))):
        raise Conflict(f"region code {code!r} exists", field="code")
    region = Region(
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        path=f"{parent.path if parent else '/'}{code}/",
    )
    session.add(region)
    session.flush()
    return region


# --- schools ------------------------------------------------------------------------------


def _to_wgs84(data: dict[str, Any]) -> dict[str, Any]:
    """Positions picked on a Chinese map (GCJ-02) become GPS coordinates (WGS-84): fences
    are compared with phones' GPS fixes, and the two datums differ by hundreds of metres."""
    data = dict(data)
    if data.pop("coord_system", "wgs84") != "gcj02":
        return data
    if "latitude" in data and "longitude" in data:
        data["latitude"], data["longitude"] = gcj02_to_wgs84(data["latitude"], data["longitude"])
    if data.get("fence_points"):
        data["fence_points"] = [
            {
                **p,
                **dict(
                    zip(
                        ("latitude", "longitude"),
                        gcj02_to_wgs84(p["latitude"], p["longitude"]),
                        strict=True,
                    )
                ),
            }
            for p in data["fence_points"]
        ]
    return data


def _fence_points(points: list[dict[str, Any]]) -> list[FencePoint]:
    labels = [p["label"] for p in points]
    if len(set(labels)) != len(labels):
        raise InvalidInput("fence point labels must be unique", field="fence_points")
    return [FencePoint(**p) for p in points]


def create_school(
    session: Session, data: dict[str, Any], principal: Principal | None = None
) -> School:
    data = _to_wgs84(data)
    region_id: uuid.UUID = data["region_id"]
    if principal is not None and not in_scope(
        session, principal, Resource.REGION, Action.WRITE, region_id
    ):
        raise InvalidInput(f"region {region_id} not found in your scope", field="region_id")
    if session.get(Region, region_id) is None:
        raise InvalidInput(f"region {region_id} not found", field="region_id")
    if session.scalar(sa.select(sa.exists().where(School.code == data["code"]))):
        raise Conflict(f"school code {data['code']!r} exists", field="code")
    fields = {k: v for k, v in data.items() if k != "fence_points"}
    school = School(**fields, fence_points=_fence_points(data.get("fence_points", [])))
    session.add(school)
    session.flush()
    return school


def update_school(session: Session, school: School, changes: dict[str, Any]) -> School:
    if changes.get("coord_system") == "gcj02" and ("latitude" in changes) != (
        "longitude" in changes
    ):
        raise InvalidInput("send latitude and longitude together in GCJ-02", field="latitude")
    changes = _to_wgs84(changes)
    if "fence_points" in changes:
        points = _fence_points(changes.pop("fence_points"))
        # Delete the old points first: the flush inserts before it deletes, and a point
        # that keeps its label would collide with itself on (school_id, label).
        school.fence_points = []
        session.flush()
        school.fence_points = points
    grows = changes.get("student_count", school.student_count) > school.student_count
    for key, value in changes.items():
        setattr(school, key, value)
    session.flush()
    if grows:
        today = clock.today()
        for community in _communities_from(session, school.id, today):
            check_caps(session, community, today)
    return school


def _communities_from(session: Session, school_id: uuid.UUID, day: date) -> list[Community]:
    """Communities the school belongs to on ``day`` or later (a dated leave still counts)."""
    stmt = (
        sa.select(Community)
        .join(CommunityMembership)
        .where(
            CommunityMembership.school_id == school_id,
            sa.or_(CommunityMembership.left_on.is_(None), CommunityMembership.left_on > day),
        )
        .with_for_update(of=Community)
    )
    return list(session.scalars(stmt).unique())


# --- communities and membership -----------------------------------------------------------


def _members_from(session: Session, community_id: uuid.UUID, day: date) -> list[School]:
    """Schools belonging to the community on ``day`` or joining later (the cap's horizon)."""
    stmt = (
        sa.select(School)
        .join(CommunityMembership, CommunityMembership.school_id == School.id)
        .where(
            CommunityMembership.community_id == community_id,
            sa.or_(CommunityMembership.left_on.is_(None), CommunityMembership.left_on > day),
        )
    )
    return list(session.scalars(stmt).unique())


def check_caps(
    session: Session, community: Community, day: date, joining: School | None = None
) -> None:
    """Raise if the community would exceed 9 schools or 15,000 students (001 §15)."""
    schools = {s.id: s for s in _members_from(session, community.id, day)}
    if joining is not None:
        schools[joining.id] = joining
    if len(schools) > MAX_SCHOOLS_PER_COMMUNITY:
        raise RuleViolation(
            f"a community covers at most {MAX_SCHOOLS_PER_COMMUNITY} schools, campuses included;"
            f" {community.name} would have {len(schools)}",
            rule=CAP_RULE,
        )
    students = sum(s.student_count for s in schools.values())
    if students > MAX_STUDENTS_PER_COMMUNITY:
        raise RuleViolation(
            f"a community covers at most {MAX_STUDENTS_PER_COMMUNITY:,} students;"
            f" {community.name} would have {students:,}",
            rule=CAP_RULE,
        )


def school_in_scope(
    session: Session,
    principal: Principal | None,
    school_id: uuid.UUID,
    field: str,
    action: Action = Action.READ,
) -> School:
    """A school a request names in its body: 422 on ``field`` if unknown or out of scope
    (the caller's own object would be a 404; a referenced one is a bad input)."""
    if principal is not None and not in_scope(
        session, principal, Resource.SCHOOL, action, school_id
    ):
        raise InvalidInput(f"school {school_id} not found in your scope", field=field)
    school = session.get(School, school_id)
    if school is None:
        raise InvalidInput(f"school {school_id} not found", field=field)
    return school


def create_community(
    session: Session, data: dict[str, Any], principal: Principal | None = None
) -> Community:
    """A community with its core and first members, all joining on ``term_start``.

    Setting a community up is the bureau's own act, so these first joins are recorded as
    changes approved by the creator (001 §7: joining needs bureau approval).
    """
    region_id: uuid.UUID = data["region_id"]
    if principal is not None and not in_scope(
        session, principal, Resource.REGION, Action.WRITE, region_id
    ):
        raise InvalidInput(f"region {region_id} not found in your scope", field="region_id")
    if session.scalar(sa.select(sa.exists().where(Community.name == data["name"]))):
        raise Conflict(f"community {data['name']!r} exists", field="name")
    core = school_in_scope(session, principal, data["core_school_id"], "core_school_id")
    member_ids: list[uuid.UUID] = list(dict.fromkeys(data.get("member_school_ids", [])))
    if core.id in member_ids:
        raise InvalidInput(
            "the core school is not also listed as a member", field="member_school_ids"
        )
    members = [school_in_scope(session, principal, i, "member_school_ids") for i in member_ids]
    community = Community(
        name=data["name"],
        mode=data["mode"],
        region_id=region_id,
        core_school_id=core.id,
        term_start=data["term_start"],
        term_end=data["term_end"],
    )
    session.add(community)
    session.flush()
    actor = principal.user_id if principal else None
    for school in [core, *members]:
        check_caps(session, community, community.term_start, joining=school)
        change = MembershipChange(
            community_id=community.id,
            school_id=school.id,
            action="join",
            effective_on=community.term_start,
            status="requested",
            reason="founding member",
            requested_by_id=actor,
        )
        session.add(change)
        session.flush()
        _apply_join(session, community, change, role="core" if school is core else "member")
        _mark_decided(change, "approved", actor, "founding member")
    session.flush()
    return community


def update_community(session: Session, community: Community, changes: dict[str, Any]) -> Community:
    if "term_end" in changes and changes["term_end"] <= community.term_start:
        raise InvalidInput("term_end must be after term_start", field="term_end")
    if (
        "name" in changes
        and changes["name"] != community.name
        and session.scalar(sa.select(sa.exists().where(Community.name == changes["name"])))
    ):
        raise Conflict(f"community {changes['name']!r} exists", field="name")
    for key, value in changes.items():
        setattr(community, key, value)
    session.flush()
    return community


def community_for_change(
    session: Session, principal: Principal, community_id: uuid.UUID
) -> Community:
    """The community a join or leave is asked of; 404 outside the caller's reach.

    A school admin reads only communities their school belongs or belonged to, yet a school
    outside a community must be able to ask to join it: they may also reach the communities
    of the regions that contain their school.
    """
    condition = scope(principal, Resource.COMMUNITY, Action.READ)
    if principal.role == "school_admin":
        path = session.scalar(
            sa.select(Region.path)
            .join(School, School.region_id == Region.id)
            .where(School.id == principal.school_id)
        )
        parts = (path or "").strip("/").split("/")
        covering = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
        condition = sa.or_(
            condition,
            Community.region_id.in_(sa.select(Region.id).where(Region.path.in_(covering))),
        )
    community = session.scalars(
        sa.select(Community).where(Community.id == community_id, condition)
    ).one_or_none()
    if community is None:
        raise NotFound(f"No community {community_id}")
    return community


def request_change(
    session: Session, principal: Principal, community: Community, data: dict[str, Any]
) -> MembershipChange:
    school = _school_for_change(session, principal, data["school_id"])
    change = MembershipChange(
        community_id=community.id,
        school_id=school.id,
        action=data["action"],
        effective_on=data["effective_on"],
        reason=data.get("reason", ""),
        requested_by_id=principal.user_id,
    )
    _validate_change(session, community, change)
    pending = sa.select(MembershipChange.id).where(
        MembershipChange.community_id == community.id,
        MembershipChange.school_id == school.id,
        MembershipChange.action == change.action,
        MembershipChange.status == "requested",
    )
    if session.scalar(sa.select(pending.exists())):
        raise Conflict(f"a {change.action} request for this school is already waiting")
    session.add(change)
    session.flush()
    return change


def _school_for_change(session: Session, principal: Principal, school_id: uuid.UUID) -> School:
    if principal.role == "school_admin" and school_id != principal.school_id:
        raise InvalidInput(
            "a school admin asks to join or leave for their own school", field="school_id"
        )
    return school_in_scope(session, principal, school_id, "school_id")


def _open_membership(
    session: Session, community_id: uuid.UUID, school_id: uuid.UUID
) -> CommunityMembership | None:
    return session.scalars(
        sa.select(CommunityMembership).where(
            CommunityMembership.community_id == community_id,
            CommunityMembership.school_id == school_id,
            CommunityMembership.left_on.is_(None),
        )
    ).one_or_none()


def _validate_change(session: Session, community: Community, change: MembershipChange) -> None:
    if not community.term_start <= change.effective_on < community.term_end:
        raise InvalidInput(
            "effective_on must fall within the community's term", field="effective_on"
        )
    current = _open_membership(session, community.id, change.school_id)
    if change.action == "join" and current is not None:
        raise Conflict("the school is already a member of this community", field="school_id")
    if change.action == "join" and session.scalar(
        sa.select(
            sa.exists().where(
                CommunityMembership.community_id == community.id,
                CommunityMembership.school_id == change.school_id,
                CommunityMembership.left_on > change.effective_on,
            )
        )
    ):
        # Periods of one school in one community never overlap.
        raise InvalidInput("a school rejoins on or after the day it left", field="effective_on")
    if change.action == "leave":
        if current is None:
            raise Conflict("the school is not a member of this community", field="school_id")
        if current.role == "core":
            raise RuleViolation(
                "the core school cannot leave its community; appoint another core first",
                rule=APPROVAL_RULE,
            )
        if change.effective_on <= current.joined_on:
            raise InvalidInput("a school leaves after the day it joined", field="effective_on")


def _mark_decided(
    change: MembershipChange, status: str, actor: uuid.UUID | None, note: str
) -> None:
    change.status = status
    change.decided_by_id = actor
    change.decided_at = utcnow()
    change.decision_note = note


def _apply_join(
    session: Session, community: Community, change: MembershipChange, role: str
) -> None:
    session.add(
        CommunityMembership(
            community_id=community.id,
            school_id=change.school_id,
            role=role,
            joined_on=change.effective_on,
            joined_by_change_id=change.id,
        )
    )


def decide_change(
    session: Session, principal: Principal, change_id: uuid.UUID, *, approve: bool, note: str
) -> MembershipChange:
    change: MembershipChange = get_scoped(
        session, principal, Resource.MEMBERSHIP_CHANGE, Action.APPROVE, change_id, for_update=True
    )
    if change.status != "requested":
        raise Conflict(f"this change was already {change.status}")
    if not approve:
        _mark_decided(change, "rejected", principal.user_id, note)
        session.flush()
        return change
    community: Community = get_scoped(
        session, principal, Resource.COMMUNITY, Action.WRITE, change.community_id, for_update=True
    )
    _validate_change(session, community, change)
    if change.action == "join":
        school = session.get(School, change.school_id)
        assert school is not None  # FK
        check_caps(session, community, change.effective_on, joining=school)
        _apply_join(session, community, change, role="member")
    else:
        membership = _open_membership(session, community.id, change.school_id)
        assert membership is not None  # checked by _validate_change
        membership.left_on = change.effective_on
        membership.left_by_change_id = change.id
    _mark_decided(change, "approved", principal.user_id, note)
    session.flush()
    return change


def shared_community(
    session: Session, school_a: uuid.UUID, school_b: uuid.UUID, day: date
) -> uuid.UUID | None:
    """A community both schools belong to on ``day``, if any."""
    a = aliased(CommunityMembership)
    b = aliased(CommunityMembership)

    def active(m: Any) -> sa.ColumnElement[bool]:
        return sa.and_(m.joined_on <= day, sa.or_(m.left_on.is_(None), m.left_on > day))

    stmt = (
        sa.select(a.community_id)
        .join(b, b.community_id == a.community_id)
        .where(a.school_id == school_a, b.school_id == school_b, active(a), active(b))
        .order_by(a.community_id)
        .limit(1)
    )
    return session.scalar(stmt)
