"""A visit's photos (the scene, and the school representative's signature): where they
stand. Either the visit or a photo may reach the server first; both paths end here, as for
check-ins (``backend.attendance.photos``). The photos are the inspector's uploads, so the
visit's inspector is their owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.events import photo_changed
from backend.inspection.models import SpotCheckVisit
from media.services import claim, photo_state

# A visit shows its least settled photo. Failures come first: a mismatched or invalid
# photo needs the inspector to act, whatever the others' state.
_PRECEDENCE = ("invalid", "mismatch", "expected", "uploading", "verified")


def photo_ids_of(visit: SpotCheckVisit) -> list[str]:
    ids = list(visit.photo_ids)
    if visit.signature_photo_id:
        ids.append(visit.signature_photo_id)
    return list(dict.fromkeys(ids))


def combined_state(states: Iterable[str | None]) -> str | None:
    """The state a record with these photos shows (None: it names no photo)."""
    present = {s for s in states if s is not None}
    return next((s for s in _PRECEDENCE if s in present), None)


def refresh(session: Session, visits: Iterable[SpotCheckVisit]) -> None:
    """Recompute the photo state of these visits, and claim the photos they name."""
    for visit in visits:
        ids = photo_ids_of(visit)
        states = []
        for photo_id in ids:
            states.append(photo_state(session, visit.inspector_id, photo_id, None))
            claim(session, visit.inspector_id, photo_id)
        state = combined_state(states)
        if state != visit.photo_state:
            visit.photo_state = state


@photo_changed.connect
def _on_photo_changed(session: Any, owner_id: uuid.UUID, photo_id: str) -> None:
    visits = session.scalars(
        sa.select(SpotCheckVisit).where(
            SpotCheckVisit.inspector_id == owner_id, SpotCheckVisit.deleted_at.is_(None)
        )
    )
    # photo_ids is a JSON list: filtered here, portably (an inspector has few live visits).
    refresh(session, [v for v in visits if photo_id in photo_ids_of(v)])
