"""A class report form's photos (their states: ``media.services.photo_states``), and
keeping the form's completeness true as they arrive. The form or a photo may reach the
server first (as for check-ins and visits); both paths end in
:func:`backend.classes.sessions.refresh`. The photos are the submitter's uploads (the lead
teacher collects the receiving classrooms' photos too), so the session's submitter is
their owner."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.classes.models import ClassSession
from backend.events import photo_changed
from media.services import claim

# A photo in one of these states cannot serve as evidence: the form is incomplete until the
# teacher names another one.
UNUSABLE = frozenset({"invalid", "mismatch"})


def photo_ids_of(row: ClassSession) -> list[str]:
    """Every photo the form names: the lead classroom's, then each receiving class's."""
    ids = list(row.lead_photo_ids)
    for participant in row.participants:
        ids.extend(participant.get("photo_ids", []))
    return list(dict.fromkeys(ids))


def claim_all(session: Session, row: ClassSession) -> None:
    """The form names these photos: they are no longer orphans to clean up."""
    for photo_id in photo_ids_of(row):
        claim(session, row.submitted_by_id, photo_id)


@photo_changed.connect
def _on_photo_changed(session: Any, owner_id: uuid.UUID, photo_id: str) -> None:
    from backend.classes import sessions  # local: sessions imports this module

    rows = session.scalars(
        sa.select(ClassSession).where(
            ClassSession.submitted_by_id == owner_id, ClassSession.deleted_at.is_(None)
        )
    )
    # The photo lists are JSON: filtered here, portably (a teacher files a few forms a week).
    sessions.refresh(session, [r for r in rows if photo_id in photo_ids_of(r)])
