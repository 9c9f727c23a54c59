"""The month's spot checks (双随机) in a teacher's report row: counted per spot check (two
co-inspectors' visits are one check), withdrawn visits and other months left out."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.inspection.models import (
    InspectionPlan,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckVisit,
)
from backend.reports import services
from tests import factories
from tests.factories import World
from tests.reports.test_flow import LAST_MONTH


def _spot_check(session: Session, world: World, day: date) -> SpotCheck:
    plan = InspectionPlan(
        region_id=world.county_a.id,
        name="抽查",
        period_start=day,
        period_end=day,
        target_count=1,
        status="drawn",
    )
    session.add(plan)
    session.flush()
    check = SpotCheck(
        plan_id=plan.id,
        school_id=world.member_a.id,
        window_start=day,
        window_end=day,
        sequence=0,
        status="visited",
    )
    session.add(check)
    session.flush()
    return check


def _visit(
    session: Session,
    app: Flask,
    world: World,
    check: SpotCheck,
    day: date,
    finding: str,
    *,
    discrepant: bool = False,
    withdrawn: bool = False,
) -> None:
    inspector = factories.user(session, app, "inspector", region_id=world.county_a.id)
    visit = SpotCheckVisit(
        id=uuid.uuid4().hex,
        spot_check_id=check.id,
        inspector_id=inspector.id,
        arrived_at=0,
        latitude=35.96,
        longitude=105.73,
        findings=[{"teacher_id": str(world.teacher_a.id), "finding": finding, "note": ""}],
        received_at=utcnow(),
        client_digest="x",
        deleted_at=utcnow() if withdrawn else None,
    )
    session.add(visit)
    session.flush()
    session.add(
        SpotCheckFinding(
            visit_id=visit.id,
            spot_check_id=check.id,
            teacher_id=world.teacher_a.id,
            host_school_id=world.member_a.id,
            day=day,
            finding=finding,
            discrepancies=[{"code": "checked_in_but_found_absent", "reason": "…"}]
            if discrepant
            else [],
        )
    )
    session.flush()


def test_a_teachers_spot_checks_of_the_month_are_in_their_row(
    app: Flask, session: Session, world: World
) -> None:
    day = LAST_MONTH + timedelta(days=9)
    check = _spot_check(session, world, day)
    # Two co-inspectors, one visit each: one spot check, found absent, once discrepant.
    _visit(session, app, world, check, day, "absent", discrepant=True)
    _visit(session, app, world, check, day, "absent_without_leave")
    # A withdrawn visit does not count.
    other = _spot_check(session, world, day)
    _visit(session, app, world, other, day, "present_teaching", withdrawn=True)
    # Nor does a spot check of another month.
    later = LAST_MONTH + timedelta(days=40)
    _visit(session, app, world, _spot_check(session, world, later), later, "present_teaching")

    report = services.tally_host_month(session, world.member_a.id, LAST_MONTH, "month end")

    assert report is not None
    (row,) = [r for r in report.rows if r["teacher_id"] == str(world.teacher_a.id)]
    assert row["spot_checks"] == {
        "checked": 1,
        "present": 0,
        "absent": 1,
        "on_leave": 0,
        "discrepancies": 1,
    }
