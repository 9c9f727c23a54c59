"""Evidence photos and scans: claimed as soon as an item names them, so media's nightly
clean-up of orphans (``UNCLAIMED_PHOTO_DAYS``) never deletes what an item stands on. The
item or its photo may reach the server first (a phone offline); both paths claim."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.events import photo_changed
from backend.scoring.models import EvidenceItem
from media.services import claim


def claim_photos(session: Session, items: Iterable[EvidenceItem]) -> None:
    """The items name these photos (their submitter's uploads): no longer orphans."""
    for item in items:
        if item.deleted_at is None:
            for photo_id in item.photo_ids:
                claim(session, item.submitted_by_id, photo_id)


@photo_changed.connect
def _on_photo_changed(session: Any, owner_id: uuid.UUID, photo_id: str) -> None:
    """A photo arrived after the item that names it."""
    rows = session.scalars(
        sa.select(EvidenceItem).where(
            EvidenceItem.submitted_by_id == owner_id, EvidenceItem.deleted_at.is_(None)
        )
    )
    # The photo lists are JSON: filtered here, portably (a school files a few items a week).
    if any(photo_id in row.photo_ids for row in rows):
        claim(session, owner_id, photo_id)
