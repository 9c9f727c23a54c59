"""Inspection plans (双随机、一公开): their lifecycle, the frozen draw inputs, the draw, and
the directory of recusals (回避). What is public of them: ``inspection.publication``.

Lifecycle: ``draft`` (edited freely) → ``committed`` (inputs frozen, ``sha256(seed)``
published) → ``drawn`` (spot checks made, still secret) → ``revealed`` (after the period:
the seed and the drawn visits are public, anyone re-runs the draw). A draft or a committed
plan may be ``cancelled``. Services flush, never commit.

What committing freezes (the shape is ``backend.inspection.draw``'s ``inputs``):

- **Candidates**: teachers with an active secondment overlapping the period whose host
  school lies in the plan's region (or below) and, if the plan names communities, whose
  secondment belongs to one of them. A teacher's ``ref`` is
  ``"t-" + HMAC-SHA256(server secret, f"t:{plan_id}:{teacher_id}")[:16]``: a pseudonym per
  plan that nobody outside can compute, so the public record names nobody and shows
  whose risk weight it is. ``school`` is the host school's id; ``stratum`` is the host school,
  the community, or ``"all"`` (``plan.strata``).
- **Risk weight** (when ``risk_weighting``, and only at host schools with at least
  :data:`MIN_WEIGHED` candidates — a published weight must not single one teacher out;
  elsewhere 1): ``1 + 0.5·F + 0.5·A + 0.5·S``, at most ``draw.MAX_WEIGHT``, where F =
  the teacher had a day with open flags in the 90 days before the period, A = a day
  judged ``absent`` in those 90 days, S = a spot check found them absent
  (``ABSENT_FINDINGS``) in the year before the period. So a teacher is at most 2.5× as
  likely to be drawn as one with a clean record: risk steers, chance decides.
- **Target**: ``target_count``, or ``ceil(target_ratio × candidates)``.
- **Inspectors**: active ``inspector`` users of the region or below, as pseudonyms made
  the same way (``"i-…"``); **exclusions** from
  :class:`InspectorConflict` (school recusals for the candidates' host schools, teacher
  recusals for candidates).
- **Workdays**: the days from tomorrow (China time) to the period's end that are workdays
  at every candidate host school (``attendance.calendar``), so a window opens on a day
  every school works. An unpublished calendar year is ``calendar_not_published`` (422).

The map from refs back to ids is stored beside the inputs (``plan.inputs["refs"]``) and is
never published.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance import calendar
from backend.attendance.calendar_models import MAX_YEAR, MIN_YEAR
from backend.attendance.day_models import TeacherDay
from backend.auth.models import User
from backend.auth.policy import Action, Principal, Resource, in_scope
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput, RuleViolation
from backend.exchange.models import Secondment
from backend.inspection import draw
from backend.inspection.models import (
    ABSENT_FINDINGS,
    CONFLICT_KINDS,
    STRATA,
    InspectionPlan,
    InspectorConflict,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckTeacher,
    SpotCheckVisit,
)
from backend.org.models import Community, Region, School

RULE = "双随机、一公开"
RISK_DAYS = 90  # attendance looked at before the period, for the risk weight
# Fewest teachers a host school must have among the candidates for their risk weights to be
# used: a published weight must never single one person out (k-anonymity, k = 5).
MIN_WEIGHED = 5
FINDING_DAYS = 365  # earlier spot checks looked at
MAX_PERIOD_DAYS = 366
EDITABLE = (
    "name",
    "period_start",
    "period_end",
    "community_ids",
    "target_count",
    "target_ratio",
    "strata",
    "risk_weighting",
    "inspectors_per_visit",
    "window_days",
)
# Public once committed; a plan cancelled before its commit was never public.
PUBLIC_STATUSES = ("committed", "drawn", "revealed", "cancelled")


class PlanStatusConflict(Conflict):
    """The plan is not in the state this step needs (e.g. editing a committed plan)."""

    code = "plan_status"


class PeriodNotOver(RuleViolation):
    code = "period_not_over"


class DrawFailed(RuleViolation):
    code = "draw_impossible"


class NoWorkday(RuleViolation):
    code = "no_workday_in_period"


class SeedNotRevealed(Conflict):
    code = "seed_not_revealed"


def _invalid(field: str, message: str, code: str) -> InvalidInput:
    return InvalidInput(message, field=field, code=code)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pseudonym(key: str, prefix: str, plan_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """Keyed with the server's secret, never revealed: knowing someone's id (a school admin
    knows their teachers') does not find them, nor their risk weight, in a public record.
    Made once, at the commit; the record keeps them, so a rotated secret changes nothing."""
    mac = hmac.new(key.encode(), f"{prefix}:{plan_id}:{person_id}".encode(), "sha256")
    return f"{prefix}-{mac.hexdigest()[:16]}"


def teacher_ref(key: str, plan_id: uuid.UUID, teacher_id: uuid.UUID) -> str:
    return _pseudonym(key, "t", plan_id, teacher_id)


def inspector_ref(key: str, plan_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return _pseudonym(key, "i", plan_id, user_id)


def _regions_below(path: str) -> sa.Select[Any]:
    return sa.select(Region.id).where(Region.path.startswith(path, autoescape=True))


def region_of(session: Session, region_id: uuid.UUID) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        raise _invalid("region_id", f"no region {region_id}", "unknown_region")
    return region


def _require(plan: InspectionPlan, *statuses: str, doing: str) -> None:
    if plan.status not in statuses:
        raise PlanStatusConflict(
            f"cannot {doing} a {plan.status} plan (only {' or '.join(statuses)})", rule=RULE
        )


# --- drafts -------------------------------------------------------------------------------


def _validate(session: Session, plan: InspectionPlan) -> None:
    """The whole draft, as it would be stored (422 with the field and a code)."""
    if not plan.name or not plan.name.strip() or len(plan.name) > 200:
        raise _invalid("name", "name must have 1–200 characters", "invalid_name")
    if plan.period_start > plan.period_end:
        raise _invalid("period_end", "period_end is before period_start", "invalid_period")
    if not MIN_YEAR <= plan.period_start.year <= plan.period_end.year <= MAX_YEAR:
        raise _invalid(
            "period_start", f"the period must lie within {MIN_YEAR}–{MAX_YEAR}", "invalid_period"
        )
    if (plan.period_end - plan.period_start).days > MAX_PERIOD_DAYS:
        # A plan is a term's or a month's checks; a longer one only costs calendar reads.
        raise _invalid(
            "period_end", f"a period lasts at most {MAX_PERIOD_DAYS} days", "invalid_period"
        )
    if (plan.target_count is None) == (plan.target_ratio is None):
        raise _invalid(
            "target_count", "give exactly one of target_count and target_ratio", "invalid_target"
        )
    if plan.target_count is not None and plan.target_count < 1:
        raise _invalid("target_count", "target_count must be at least 1", "invalid_target")
    if plan.target_ratio is not None and not 0 < plan.target_ratio <= 1:
        raise _invalid("target_ratio", "target_ratio must be in (0, 1]", "invalid_target")
    if plan.strata not in STRATA:
        raise _invalid("strata", f"strata must be one of {', '.join(STRATA)}", "invalid_strata")
    if plan.inspectors_per_visit < 2:
        raise _invalid(
            "inspectors_per_visit",
            "at least 2 inspectors per visit (双随机)",
            "invalid_inspectors_per_visit",
        )
    if not 1 <= plan.window_days <= 31:
        raise _invalid("window_days", "window_days must be 1–31", "invalid_window_days")
    region = region_of(session, plan.region_id)
    wanted = {str(c) for c in plan.community_ids}
    if wanted:
        found = set(
            session.scalars(
                sa.select(Community.id).where(
                    Community.id.in_([uuid.UUID(c) for c in wanted]),
                    Community.region_id.in_(_regions_below(region.path)),
                )
            )
        )
        unknown = sorted(wanted - {str(c) for c in found})
        if unknown:
            raise _invalid(
                "community_ids",
                f"no community {', '.join(unknown)} in {region.name}",
                "unknown_community",
            )
    plan.community_ids = sorted(wanted)


def create_plan(
    session: Session, data: dict[str, Any], *, created_by_id: uuid.UUID | None = None
) -> InspectionPlan:
    """A draft plan in ``data["region_id"]`` (the caller's scope is the API's to check)."""
    plan = InspectionPlan(
        region_id=data["region_id"],
        name=data.get("name", ""),
        period_start=data["period_start"],
        period_end=data["period_end"],
        community_ids=[str(c) for c in data.get("community_ids") or []],
        target_count=data.get("target_count"),
        target_ratio=data.get("target_ratio"),
        strata=data.get("strata", "host_school"),
        risk_weighting=data.get("risk_weighting", True),
        inspectors_per_visit=data.get("inspectors_per_visit", 2),
        window_days=data.get("window_days", 5),
        status="draft",
        beacon="",
        created_by_id=created_by_id,
    )
    _validate(session, plan)
    session.add(plan)
    session.flush()
    return plan


def update_plan(session: Session, plan: InspectionPlan, changes: dict[str, Any]) -> InspectionPlan:
    """Edit a draft; the result is validated whole. Naming one target clears the other."""
    _require(plan, "draft", doing="edit")
    for name in EDITABLE:
        if name in changes:
            value = changes[name]
            setattr(plan, name, [str(c) for c in value or []] if name == "community_ids" else value)
    if changes.get("target_count") is not None and "target_ratio" not in changes:
        plan.target_ratio = None
    if changes.get("target_ratio") is not None and "target_count" not in changes:
        plan.target_count = None
    _validate(session, plan)
    session.flush()
    return plan


def cancel(session: Session, plan: InspectionPlan) -> InspectionPlan:
    """A plan not yet drawn is called off (once drawn, spot checks exist: they stand)."""
    _require(plan, "draft", "committed", doing="cancel")
    plan.status = "cancelled"
    session.flush()
    return plan


# --- commit: freezing the inputs ------------------------------------------------------------


def _candidate_rows(session: Session, plan: InspectionPlan, region: Region) -> list[Any]:
    """One secondment per teacher (the latest to start) that puts them in the plan."""
    stmt = (
        sa.select(Secondment.teacher_id, Secondment.host_school_id, Secondment.community_id)
        .join(School, School.id == Secondment.host_school_id)
        .where(
            Secondment.status == "active",
            Secondment.deleted_at.is_(None),
            Secondment.start_on <= plan.period_end,
            Secondment.end_on >= plan.period_start,
            School.deleted_at.is_(None),
            School.region_id.in_(_regions_below(region.path)),
        )
        .order_by(Secondment.teacher_id, Secondment.start_on.desc(), Secondment.id)
    )
    if plan.community_ids:
        stmt = stmt.where(Secondment.community_id.in_([uuid.UUID(c) for c in plan.community_ids]))
    chosen: dict[uuid.UUID, Any] = {}
    for row in session.execute(stmt):
        chosen.setdefault(row.teacher_id, row)
    return list(chosen.values())


def _risk_sets(
    session: Session, teacher_ids: list[uuid.UUID], start: date
) -> tuple[set[uuid.UUID], set[uuid.UUID], set[uuid.UUID]]:
    """Teachers with open flags, with an absent day (both in the 90 days before ``start``),
    and found absent by a spot check in the year before it."""
    if not teacher_ids:
        return set(), set(), set()
    since = start - timedelta(days=RISK_DAYS)
    recent = (
        sa.select(TeacherDay.teacher_id)
        .distinct()
        .where(
            TeacherDay.teacher_id.in_(teacher_ids),
            TeacherDay.deleted_at.is_(None),
            TeacherDay.day >= since,
            TeacherDay.day < start,
        )
    )
    flagged = set(session.scalars(recent.where(TeacherDay.open_flags > 0)))
    absent = set(session.scalars(recent.where(TeacherDay.status == "absent")))
    found_absent = set(
        session.scalars(
            sa.select(SpotCheckFinding.teacher_id)
            .distinct()
            .join(SpotCheckVisit, SpotCheckVisit.id == SpotCheckFinding.visit_id)
            .where(
                SpotCheckFinding.teacher_id.in_(teacher_ids),
                SpotCheckVisit.deleted_at.is_(None),
                SpotCheckFinding.finding.in_(ABSENT_FINDINGS),
                SpotCheckFinding.day >= start - timedelta(days=FINDING_DAYS),
                SpotCheckFinding.day < start,
            )
        )
    )
    return flagged, absent, found_absent


def risk_weight(flagged: bool, absent: bool, found_absent: bool) -> float:
    return min(draw.MAX_WEIGHT, 1.0 + 0.5 * flagged + 0.5 * absent + 0.5 * found_absent)


def _stratum(plan: InspectionPlan, row: Any) -> str:
    if plan.strata == "host_school":
        return str(row.host_school_id)
    if plan.strata == "community":
        return str(row.community_id) if row.community_id else "no_community"
    return "all"


def target_of(plan: InspectionPlan, candidates: int) -> int:
    if plan.target_count is not None:
        return plan.target_count
    # Decimal: 0.3 × 10 is 3.0000000000000004 in floats, whose ceiling would be 4.
    return math.ceil(Decimal(str(plan.target_ratio)) * candidates)


def _workdays(
    session: Session, plan: InspectionPlan, region: Region, schools: set[uuid.UUID]
) -> list[str]:
    for year in range(plan.period_start.year, plan.period_end.year + 1):
        if not calendar.is_published(session, region.id, year):
            raise calendar.CalendarNotPublished(year, region.id, region.name)
    first = max(plan.period_start, clock.today() + timedelta(days=1))
    common: set[date] | None = None
    for school_id in sorted(schools):
        days = {
            d.day
            for d in calendar.workdays(session, school_id, first, plan.period_end)
            if d.workday
        }
        common = days if common is None else common & days
    return sorted(d.isoformat() for d in common or set())


def commit(session: Session, plan: InspectionPlan, pseudonym_key: str) -> InspectionPlan:
    """Freeze the draw's inputs and commit to a secret seed (see the module docstring).
    ``pseudonym_key``: the server's secret, which keys the people's refs."""
    _require(plan, "draft", doing="commit")
    region = region_of(session, plan.region_id)
    rows = _candidate_rows(session, plan, region)
    teacher_ids = [r.teacher_id for r in rows]
    flagged, absent, found_absent = (
        _risk_sets(session, teacher_ids, plan.period_start)
        if plan.risk_weighting
        else (set(), set(), set())
    )
    teacher_refs = {r.teacher_id: teacher_ref(pseudonym_key, plan.id, r.teacher_id) for r in rows}
    hosted = Counter(r.host_school_id for r in rows)
    candidates = sorted(
        (
            {
                "ref": teacher_refs[r.teacher_id],
                "school": str(r.host_school_id),
                "stratum": _stratum(plan, r),
                # The weights are published with the school: where a school hosts fewer
                # than MIN_WEIGHED teachers, a weight could point at one person's record,
                # so there everyone weighs 1.
                "weight": risk_weight(
                    r.teacher_id in flagged, r.teacher_id in absent, r.teacher_id in found_absent
                )
                if hosted[r.host_school_id] >= MIN_WEIGHED
                else 1.0,
            }
            for r in rows
        ),
        key=lambda c: str(c["ref"]),
    )
    inspector_ids = list(
        session.scalars(
            sa.select(User.id).where(
                User.role == "inspector",
                User.active.is_(True),
                User.region_id.in_(_regions_below(region.path)),
            )
        )
    )
    inspector_refs = {i: inspector_ref(pseudonym_key, plan.id, i) for i in inspector_ids}
    schools = {r.host_school_id for r in rows}
    exclusions: set[tuple[str, str]] = set()
    if inspector_ids:
        for conflict in session.scalars(
            sa.select(InspectorConflict).where(InspectorConflict.inspector_id.in_(inspector_ids))
        ):
            who = inspector_refs[conflict.inspector_id]
            if conflict.school_id is not None and conflict.school_id in schools:
                exclusions.add((who, str(conflict.school_id)))
            if conflict.teacher_id is not None and conflict.teacher_id in teacher_refs:
                exclusions.add((who, teacher_refs[conflict.teacher_id]))
    workdays = _workdays(session, plan, region, schools)
    if candidates and not workdays:
        raise NoWorkday(
            "no day from tomorrow to the end of the period is a workday at every school",
            rule=RULE,
        )
    inputs: dict[str, Any] = {
        "version": draw.DRAW_VERSION,
        "candidates": candidates,
        "target": target_of(plan, len(candidates)),
        "inspectors": sorted(inspector_refs.values()),
        "exclusions": [list(pair) for pair in sorted(exclusions)],
        "inspectors_per_visit": plan.inspectors_per_visit,
        "workdays": workdays,
        "window_days": plan.window_days,
        "period_end": plan.period_end.isoformat(),
    }
    try:
        draw.validate(inputs)
    except draw.DrawImpossible as exc:  # e.g. two teachers' refs collide: never silently
        raise DrawFailed(str(exc), rule=RULE) from exc
    seed = secrets.token_hex(32)
    plan.inputs = {
        "inputs": inputs,
        "refs": {
            "teachers": {ref: str(t) for t, ref in teacher_refs.items()},
            "inspectors": {ref: str(i) for i, ref in inspector_refs.items()},
        },
    }
    plan.inputs_digest = draw.inputs_digest(inputs)
    plan.seed = seed
    plan.seed_commitment = draw.commitment(seed)
    plan.status = "committed"
    plan.committed_at = utcnow()
    session.flush()
    return plan


# --- the draw and the reveal ------------------------------------------------------------------


def frozen_inputs(plan: InspectionPlan) -> dict[str, Any]:
    if plan.inputs is None:
        raise PlanStatusConflict("the plan is not committed: it has no inputs yet", rule=RULE)
    inputs: dict[str, Any] = plan.inputs["inputs"]
    return inputs


def refs_of(plan: InspectionPlan, kind: str) -> dict[str, str]:
    refs: dict[str, str] = (plan.inputs or {}).get("refs", {}).get(kind, {})
    return refs


def draw_spot_checks(session: Session, plan: InspectionPlan, beacon: str) -> InspectionPlan:
    """Run the draw with the committed seed and the public ``beacon``; make the spot checks."""
    _require(plan, "committed", doing="draw")
    if len(beacon) > 200:
        raise _invalid("beacon", "beacon must have at most 200 characters", "invalid_beacon")
    if clock.today() > plan.period_end:
        raise RuleViolation("the period is over: nothing is left to inspect", code="period_over")
    workdays = frozen_inputs(plan)["workdays"]
    if workdays and clock.today() >= date.fromisoformat(workdays[0]):
        # The windows are drawn from the workdays frozen at the commit: drawn later, a
        # window could lie in the past and every visit to it be flagged.
        raise RuleViolation(
            f"draw before {workdays[0]}, the first day a visit may fall on (frozen at the"
            " commit); cancel this plan and commit a new one",
            code="draw_too_late",
            rule=RULE,
        )
    assert plan.seed is not None  # a committed plan has one (see commit)
    try:
        visits = draw.run(frozen_inputs(plan), plan.seed, beacon)
    except draw.DrawImpossible as exc:
        raise DrawFailed(f"the draw is impossible: {exc}", rule=RULE) from exc
    teachers, inspectors = refs_of(plan, "teachers"), refs_of(plan, "inspectors")
    for sequence, visit in enumerate(visits):
        check = SpotCheck(
            plan_id=plan.id,
            school_id=uuid.UUID(visit.school),
            window_start=visit.window_start,
            window_end=visit.window_end,
            sequence=sequence,
            status="assigned",
        )
        session.add(check)
        session.flush()
        session.add_all(
            SpotCheckTeacher(spot_check_id=check.id, teacher_id=uuid.UUID(teachers[ref]))
            for ref in visit.teachers
        )
        session.add_all(
            SpotCheckInspector(spot_check_id=check.id, inspector_id=uuid.UUID(inspectors[ref]))
            for ref in visit.inspectors
        )
    plan.beacon = beacon
    plan.result_digest = draw.result_digest(visits)
    plan.status = "drawn"
    plan.drawn_at = utcnow()
    session.flush()
    return plan


def reveal(session: Session, plan: InspectionPlan) -> InspectionPlan:
    """Publish the seed and the drawn visits, once the period is over (一公开)."""
    _require(plan, "drawn", doing="reveal")
    if clock.today() <= plan.period_end:
        raise PeriodNotOver(
            f"the seed is revealed only after the period ({plan.period_end} is not over):"
            " the spot checks stay unannounced until then",
            rule=RULE,
        )
    plan.status = "revealed"
    plan.revealed_at = utcnow()
    session.flush()
    return plan


# --- recusals -------------------------------------------------------------------------------


def create_conflict(
    session: Session, principal: Principal, data: dict[str, Any]
) -> InspectorConflict:
    """Record a recusal of an inspector of the caller's region, from a school or a teacher
    the caller sees; anything else is unknown to them (422)."""
    inspector_id: uuid.UUID = data["inspector_id"]
    school_id: uuid.UUID | None = data.get("school_id")
    teacher_id: uuid.UUID | None = data.get("teacher_id")
    kind: str = data["kind"]
    note: str = data.get("note") or ""
    if kind not in CONFLICT_KINDS:
        raise _invalid("kind", f"kind must be one of {', '.join(CONFLICT_KINDS)}", "invalid_kind")
    if (school_id is None) == (teacher_id is None):
        raise _invalid("school_id", "give exactly one of school_id and teacher_id", "one_of")
    if kind in ("own_school", "former_school") and school_id is None:
        raise _invalid("school_id", f"a {kind} recusal names a school", "kind_mismatch")
    if kind in ("relative", "colleague") and teacher_id is None:
        raise _invalid("teacher_id", f"a {kind} recusal names a teacher", "kind_mismatch")
    if len(note) > 500:
        raise _invalid("note", "note must have at most 500 characters", "invalid_note")
    inspector = sa.select(User.id).where(
        User.id == inspector_id,
        User.role == "inspector",
        User.region_id.in_(_regions_below(principal.region_path or "\x00")),
    )
    if not session.scalar(sa.select(inspector.exists())):
        raise _invalid(
            "inspector_id", f"no inspector {inspector_id} in your region", "unknown_inspector"
        )
    if school_id is not None and not in_scope(
        session, principal, Resource.SCHOOL, Action.READ, school_id
    ):
        raise _invalid("school_id", f"no school {school_id} in your region", "unknown_school")
    if teacher_id is not None and not in_scope(
        session, principal, Resource.TEACHER, Action.READ, teacher_id
    ):
        raise _invalid("teacher_id", f"no teacher {teacher_id} in your region", "unknown_teacher")
    same = sa.select(InspectorConflict.id).where(
        InspectorConflict.inspector_id == inspector_id,
        InspectorConflict.school_id.is_(None)
        if school_id is None
        else InspectorConflict.school_id == school_id,
        InspectorConflict.teacher_id.is_(None)
        if teacher_id is None
        else InspectorConflict.teacher_id == teacher_id,
    )
    # NULLs never clash in a unique constraint, so the pair is checked here as well.
    if session.scalar(sa.select(same.exists())):
        raise Conflict("this recusal is already recorded", code="duplicate_conflict")
    conflict = InspectorConflict(
        inspector_id=inspector_id, school_id=school_id, teacher_id=teacher_id, kind=kind, note=note
    )
    session.add(conflict)
    session.flush()
    return conflict
