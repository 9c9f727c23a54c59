"""Evidence for tests: items filed and verified through the real services (no requests),
for tests that need a community's verified evidence (e.g. scoring).

Stable on purpose: other tests build on :func:`verified_evidence`.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from backend import clock, review
from backend.auth.models import User
from backend.auth.policy import Principal
from backend.org.models import Region
from backend.scoring import evidence as services
from backend.scoring.models import EvidenceItem
from tests.factories import World

# What each kind needs, so a caller names only what its test is about. mentor_session and
# quality_analysis name another item: pass ``details`` with its id.
DEFAULTS: dict[str, dict[str, Any]] = {
    "news_report": {"url": "https://news.example.org/2026/community"},
    "teaching_materials": {"subject": "数学"},
    "mentor_pair": {"details": {"mentor": "王老师", "mentee": "李老师"}},
}


def principal_of(session: Session, user: User) -> Principal:
    """The principal a request by ``user`` would carry (the device is not consulted)."""
    region = session.get(Region, user.region_id) if user.region_id is not None else None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        device_pk=uuid.uuid4(),
        teacher_id=user.teacher_id,
        school_id=user.school_id,
        region_id=user.region_id,
        region_path=region.path if region is not None else None,
    )


def filed_evidence(
    session: Session,
    world: World,
    kind: str,
    day: date,
    *,
    submitter: str = "school_admin_a",
    **fields: Any,
) -> EvidenceItem:
    """An item of ``kind`` on ``day`` filed by ``submitter`` (community A unless
    ``community_id`` is given), waiting for review; flushed, not committed. Any day is
    accepted: "today" is taken as ``day`` if the clock is earlier."""
    data: dict[str, Any] = {
        "community_id": world.community_a.id,
        "kind": kind,
        "day": day,
        "title": f"{kind} {day.isoformat()}",
        **DEFAULTS.get(kind, {}),
        **fields,
    }
    today = max(clock.today(), day)
    return services.file_evidence(
        session, principal_of(session, world.users[submitter]), data, today=today
    )


def verified_evidence(
    session: Session,
    world: World,
    kind: str,
    day: date,
    *,
    submitter: str = "school_admin_a",
    reviewer: str = "bureau_a",
    **fields: Any,
) -> EvidenceItem:
    """An item filed as :func:`filed_evidence` does and verified by ``reviewer``,
    committed (to the test's savepoint, as ``committed_world`` does) so requests see it."""
    item = filed_evidence(session, world, kind, day, submitter=submitter, **fields)
    review.decide(
        session,
        services.KIND,
        item,
        world.users[reviewer].id,
        verified=True,
        reason="",
        revision=item.revision,
    )
    session.commit()
    return item
