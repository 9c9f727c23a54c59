"""Inspection plans for tests: built and drawn through the real services.

``drawn_plan(session, world)`` is shared with the spot-check visit tests: a plan over
county A for 12–30 October 2026, committed on 1 October (clock pinned) and drawn, so
teacher A (seconded to member A) has one spot check with two inspectors.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from unittest import mock

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock
from backend.auth.models import User
from backend.auth.passwords import hash_password
from backend.inspection import plans
from backend.inspection.models import InspectionPlan, SpotCheck
from tests import factories
from tests.conftest import TEST_SECRET

PERIOD_START = date(2026, 10, 12)
PERIOD_END = date(2026, 10, 30)
BEFORE = date(2026, 10, 1)  # "today" while committing and drawing
AFTER = date(2026, 11, 2)  # "today" once the period is over
BEACON = "体彩 2026-10-09 排列5: 3 1 4 1 5"


@contextmanager
def today_is(day: date) -> Iterator[None]:
    """Pin China's "today" (services read ``backend.clock.today``)."""
    with mock.patch.object(clock, "today", lambda: day):
        yield


def inspector(session: Session, region_id: uuid.UUID) -> User:
    """An inspector login of the region (built directly: no app settings needed)."""
    user = User(
        username=factories.next_code("insp"),
        password_hash=hash_password(factories.PASSWORD),
        role="inspector",
        region_id=region_id,
    )
    session.add(user)
    session.flush()
    return user


def plan_data(world: factories.World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "region_id": world.county_a.id,
        "name": "2026年秋季交流教师随机抽查",
        "period_start": PERIOD_START,
        "period_end": PERIOD_END,
        "target_count": 1,
        "strata": "host_school",
        "inspectors_per_visit": 2,
        "window_days": 3,
    }
    data.update(overrides)
    return data


def drawn_plan(
    session: Session,
    world: factories.World,
    *,
    extra_inspectors: int = 1,
    beacon: str = BEACON,
    today: date = BEFORE,
    commit: bool = True,
    **overrides: Any,
) -> InspectionPlan:
    """A plan in county A, committed and drawn through the services.

    County A has ``inspector_a`` plus ``extra_inspectors`` new ones; ``overrides`` change
    the plan (see :func:`plan_data`). With ``commit`` the session is committed at the end
    (to the test's savepoint), so requests see the spot checks.
    """
    for _ in range(extra_inspectors):
        inspector(session, world.county_a.id)
    plan = plans.create_plan(session, plan_data(world, **overrides))
    with today_is(today):
        plans.commit(session, plan, TEST_SECRET)
        plans.draw_spot_checks(session, plan, beacon)
    if commit:
        session.commit()
    return plan


def spot_checks(session: Session, plan: InspectionPlan) -> list[SpotCheck]:
    return list(
        session.scalars(
            sa.select(SpotCheck).where(SpotCheck.plan_id == plan.id).order_by(SpotCheck.sequence)
        )
    )
