"""A class report form's photos: where each one stands, and keeping the form's completeness
true as they arrive. The form or a photo may reach the server first (as for check-ins and
visits); both paths end in :func:`backend.classes.sessions.refresh`. The photos are the
submitter's uploads (the lead teacher collects the receiving classrooms' photos too), so
the session's submitter is their owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.classes.models import ClassSession
from backend.events import photo_changed
from media.models import Photo, Upload
from media.services import claim, note_unsettled

# A photo in one of these states cannot serve as evidence: the form is incomplete until the
# teacher names another one.
UNUSABLE = frozenset({"invalid", "mismatch"})


def photo_ids_of(row: ClassSession) -> list[str]:
    """Every photo the form names: the lead classroom's, then each receiving class's."""
    ids = list(row.lead_photo_ids)
    for participant in row.participants:
        ids.extend(participant.get("photo_ids", []))
    return list(dict.fromkeys(ids))


def photo_states(session: Session, owner_id: uuid.UUID, ids: Iterable[str]) -> dict[str, str]:
    """Each named photo's state (``media.services.photo_state``'s vocabulary), in two
    queries whatever the number of photos."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    states = {p: "expected" for p in wanted}
    uploading = session.scalars(
        sa.select(Upload.photo_id).where(
            Upload.owner_id == owner_id,
            Upload.photo_id.in_(wanted),
            Upload.status == "in_progress",
        )
    )
    for photo_id in uploading:
        states[photo_id] = "uploading"
    for photo_id, status in session.execute(
        sa.select(Photo.photo_id, Photo.status).where(
            Photo.owner_id == owner_id, Photo.photo_id.in_(wanted)
        )
    ):
        states[photo_id] = {"valid": "verified", "invalid": "invalid"}.get(status, "uploading")
    for photo_id, state in states.items():
        if state in ("expected", "uploading"):
            note_unsettled(session, owner_id, photo_id)
    return states


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
