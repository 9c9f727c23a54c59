"""An evidence item's photos are claimed — never cleaned up as orphans — whether the photo
arrives before the item that names it or after (a phone offline)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.db import utcnow
from media.jobs import remove_unclaimed_photos
from media.models import Photo
from tests.factories import World, fresh
from tests.media.test_processing import photo_bytes, store_photo
from tests.scoring.test_evidence_api import created, file


def _photo(session: Session, world: World, photo_id: str) -> Photo | None:
    owner = world.users["school_admin_a"].id
    rows = fresh(
        session, sa.select(Photo).where(Photo.owner_id == owner, Photo.photo_id == photo_id)
    )
    return rows[0] if rows else None


def test_photos_named_by_evidence_survive_the_orphan_clean_up(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    owner = world.users["school_admin_a"].id
    store_photo(app, owner, "ev-before", photo_bytes(51))  # uploaded, then the item filed
    created(file(client, world, photo_ids=["ev-before", "ev-after"]))
    store_photo(app, owner, "ev-after", photo_bytes(52))  # the item first, the photo later
    store_photo(app, owner, "ev-orphan", photo_bytes(53))  # named by nothing
    for photo_id in ("ev-before", "ev-after"):
        photo = _photo(session, world, photo_id)
        assert photo is not None and photo.claimed_at is not None, photo_id
    assert (orphan := _photo(session, world, "ev-orphan")) is not None
    assert orphan.claimed_at is None

    # Long after: the clean-up removes the orphan only.
    session.execute(
        sa.update(Photo)
        .where(Photo.owner_id == owner)
        .values(created_at=utcnow() - timedelta(days=365))
    )
    session.commit()
    with app.app_context():
        remove_unclaimed_photos()
    assert _photo(session, world, "ev-orphan") is None
    assert _photo(session, world, "ev-before") is not None
    assert _photo(session, world, "ev-after") is not None
