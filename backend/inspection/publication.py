"""What is public of an inspection plan (一公开): its draw record (refs only; the seed and
the drawn visits once revealed), the verification of its draw, and its summary with the
results per school — never a teacher's name or id, a photo or a position."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.inspection import draw
from backend.inspection.models import (
    InspectionPlan,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckTeacher,
    SpotCheckVisit,
)
from backend.inspection.plans import (
    PUBLIC_STATUSES,
    RULE,
    SeedNotRevealed,
    frozen_inputs,
    refs_of,
    region_of,
)
from backend.org.models import School


def _drawn_visits(session: Session, plan: InspectionPlan) -> list[dict[str, Any]]:
    """The stored spot checks in the draw's terms (refs): what verification compares the
    re-run draw with, so a spot check changed after the draw is caught."""
    teacher_refs = {v: k for k, v in refs_of(plan, "teachers").items()}
    inspector_refs = {v: k for k, v in refs_of(plan, "inspectors").items()}
    checks = list(
        session.scalars(
            sa.select(SpotCheck).where(SpotCheck.plan_id == plan.id).order_by(SpotCheck.sequence)
        )
    )
    ids = [c.id for c in checks]
    teachers: dict[uuid.UUID, list[str]] = defaultdict(list)
    inspectors: dict[uuid.UUID, list[str]] = defaultdict(list)
    if ids:
        for check_id, teacher_id in session.execute(
            sa.select(SpotCheckTeacher.spot_check_id, SpotCheckTeacher.teacher_id).where(
                SpotCheckTeacher.spot_check_id.in_(ids)
            )
        ):
            teachers[check_id].append(teacher_refs.get(str(teacher_id), "unknown"))
        for check_id, user_id in session.execute(
            sa.select(SpotCheckInspector.spot_check_id, SpotCheckInspector.inspector_id).where(
                SpotCheckInspector.spot_check_id.in_(ids)
            )
        ):
            inspectors[check_id].append(inspector_refs.get(str(user_id), "unknown"))
    return [
        draw.Visit(
            str(c.school_id),
            c.window_start,
            c.window_end,
            tuple(sorted(teachers[c.id])),
            tuple(sorted(inspectors[c.id])),
        ).as_json()
        for c in checks
    ]


def _plan_info(session: Session, plan: InspectionPlan) -> dict[str, Any]:
    region = region_of(session, plan.region_id)
    return {
        "id": str(plan.id),
        "name": plan.name,
        "region": {"id": str(region.id), "code": region.code, "name": region.name},
        "period_start": plan.period_start.isoformat(),
        "period_end": plan.period_end.isoformat(),
        "community_ids": list(plan.community_ids),
        "strata": plan.strata,
        "target_count": plan.target_count,
        "target_ratio": plan.target_ratio,
        "risk_weighting": plan.risk_weighting,
        "inspectors_per_visit": plan.inspectors_per_visit,
        "window_days": plan.window_days,
        "status": plan.status,
    }


def draw_record(session: Session, plan: InspectionPlan) -> dict[str, Any]:
    """The public record of a committed plan's draw: refs only, no names, no ids of people.

    ``seed``, ``visits`` and ``result_digest`` appear only once revealed. The result digest
    is withheld too: with a small plan (one school, a few workdays and inspectors) every
    possible outcome could be hashed and compared, unmasking the unannounced visit.
    """
    inputs = frozen_inputs(plan)
    revealed = plan.status == "revealed"
    return {
        "plan": _plan_info(session, plan),
        "draw_version": inputs["version"],
        "inputs": inputs,
        "inputs_digest": plan.inputs_digest,
        "seed_commitment": plan.seed_commitment,
        "beacon": plan.beacon,
        "committed_at": plan.committed_at,
        "drawn_at": plan.drawn_at,
        "revealed_at": plan.revealed_at,
        "seed": plan.seed if revealed else None,
        "result_digest": plan.result_digest if revealed else None,
        "visits": _drawn_visits(session, plan) if revealed else None,
    }


def verification(session: Session, plan: InspectionPlan) -> dict[str, Any]:
    """``draw.verify`` on the public record: 409 until the seed is revealed."""
    if plan.status != "revealed":
        raise SeedNotRevealed(
            "the seed is revealed only after the period; verify the draw then", rule=RULE
        )
    return draw.verify(draw_record(session, plan))


def _school_results(session: Session, plan: InspectionPlan) -> list[dict[str, Any]]:
    """Per school: spot checks, teachers checked, findings and discrepancies, as counts."""
    checks = sa.select(SpotCheck.id).where(SpotCheck.plan_id == plan.id)
    per_school = session.execute(
        sa.select(
            School.id,
            School.name,
            sa.func.count(sa.distinct(SpotCheck.id)),
            sa.func.count(SpotCheckTeacher.teacher_id),
        )
        .join(SpotCheck, SpotCheck.school_id == School.id)
        .outerjoin(SpotCheckTeacher, SpotCheckTeacher.spot_check_id == SpotCheck.id)
        .where(SpotCheck.plan_id == plan.id)
        .group_by(School.id, School.name)
        .order_by(School.name, School.id)
    ).all()
    findings: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
    discrepancies: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
    # Co-inspectors each file a visit: a teacher counts once per finding value per check.
    seen: set[tuple[uuid.UUID, uuid.UUID, str]] = set()
    for row in session.execute(
        sa.select(
            SpotCheckFinding.spot_check_id,
            SpotCheckFinding.host_school_id,
            SpotCheckFinding.teacher_id,
            SpotCheckFinding.finding,
            SpotCheckFinding.discrepancies,
        )
        .join(SpotCheckVisit, SpotCheckVisit.id == SpotCheckFinding.visit_id)
        .where(SpotCheckFinding.spot_check_id.in_(checks), SpotCheckVisit.deleted_at.is_(None))
    ):
        key = (row.spot_check_id, row.teacher_id, row.finding)
        if key in seen:
            continue
        seen.add(key)
        findings[row.host_school_id][row.finding] += 1
        for item in row.discrepancies or []:
            discrepancies[row.host_school_id][str(item.get("code", "other"))] += 1
    return [
        {
            "school_id": str(school_id),
            "school_name": name,
            "spot_checks": check_count,
            "teachers_checked": teacher_count,
            "findings": dict(sorted(findings[school_id].items())),
            "discrepancies": sum(discrepancies[school_id].values()),
            "discrepancies_by_code": dict(sorted(discrepancies[school_id].items())),
        }
        for school_id, name, check_count, teacher_count in per_school
    ]


def public_summary(session: Session, plan: InspectionPlan) -> dict[str, Any]:
    """What anyone may read of a committed plan; results per school once revealed."""
    region = region_of(session, plan.region_id)
    inputs = frozen_inputs(plan)
    revealed = plan.status == "revealed"
    return {
        "id": str(plan.id),
        "name": plan.name,
        "region_id": str(region.id),
        "region_name": region.name,
        "period_start": plan.period_start,
        "period_end": plan.period_end,
        "status": plan.status,
        "strata": plan.strata,
        "candidates": len(inputs["candidates"]),
        "target": inputs["target"],
        "seed_commitment": plan.seed_commitment,
        "inputs_digest": plan.inputs_digest,
        "beacon": plan.beacon,
        "committed_at": plan.committed_at,
        "drawn_at": plan.drawn_at,
        "revealed_at": plan.revealed_at,
        "seed": plan.seed if revealed else None,
        "result_digest": plan.result_digest if revealed else None,
        "schools": _school_results(session, plan) if revealed else None,
    }


def public_plans() -> sa.Select[Any]:
    """Plans anyone may see: committed at some point (a draft was never announced)."""
    return sa.select(InspectionPlan).where(
        InspectionPlan.status.in_(PUBLIC_STATUSES), InspectionPlan.committed_at.is_not(None)
    )


def public_plan(session: Session, plan_id: uuid.UUID) -> InspectionPlan:
    plan: InspectionPlan | None = session.scalars(
        public_plans().where(InspectionPlan.id == plan_id)
    ).one_or_none()
    if plan is None:
        raise NotFound(f"No published inspection plan {plan_id}")
    return plan
