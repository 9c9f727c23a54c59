"""Photo evidence services: storing a finished upload, processing it, its state for records.

An upload becomes a :class:`Photo` when its last byte arrives and its sha256 matches what
the phone declared; processing (validation, EXIF, derivatives, perceptual hash) runs as a
job after that commit. Records elsewhere name photos by (owner, client photo id, sha256);
:func:`photo_state` tells them where the photo stands, and :data:`photo_changed` tells
them when that changes — media never knows which features listen.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.db import database_of, utcnow
from backend.events import photo_changed
from backend.extensions import settings_of
from media.models import Photo, Upload
from media.storage import CHUNK, Storage, storage_from_settings

_STORAGE_KEY = "ucomm.media_storage"


def storage(app: Flask | None = None) -> Storage:
    """The app's media store (created on first use: building the app does no I/O)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if _STORAGE_KEY not in app.extensions:
        app.extensions[_STORAGE_KEY] = storage_from_settings(settings_of(app))
    store: Storage = app.extensions[_STORAGE_KEY]
    return store


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def derived_key(sha256: str, name: str) -> str:
    return f"derived/{sha256[:2]}/{sha256}/{name}"


def sha256_of(stream: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def complete_upload(session: Session, store: Storage, upload: Upload, data: BinaryIO) -> Photo:
    """The upload's bytes (verified by the caller) become the owner's photo ``photo_id``.

    Content-addressed: identical bytes are stored once, whoever sends them. Re-uploading a
    photo id that already has a photo returns that photo (the same bytes) — a different
    sha256 for the same photo id is the caller's 409.
    """
    from backend.jobs import enqueue_after_commit
    from media.jobs import process_photo

    key = blob_key(upload.declared_sha256)
    if not store.exists(key):
        store.put(key, data)
    photo = session.scalars(
        sa.select(Photo).where(Photo.owner_id == upload.owner_id, Photo.photo_id == upload.photo_id)
    ).one_or_none()
    if photo is None:
        photo = Photo(
            id=uuid.uuid4(),
            owner_id=upload.owner_id,
            photo_id=upload.photo_id,
            sha256=upload.declared_sha256,
            size=upload.length,
            declared_content_type=upload.content_type,
            backend=store.name,
            blob_key=key,
        )
        session.add(photo)
        session.flush()
        enqueue_after_commit(session, process_photo, photo_pk=str(photo.id))
    upload.status = "complete"
    upload.photo_pk = photo.id
    upload.upload_offset = upload.length
    photo_changed.send(session, owner_id=photo.owner_id, photo_id=photo.photo_id)
    return photo


def find_photo(session: Session, owner_id: uuid.UUID, photo_id: str) -> Photo | None:
    return session.scalars(
        sa.select(Photo).where(Photo.owner_id == owner_id, Photo.photo_id == photo_id)
    ).one_or_none()


# A stored photo's state by its processing status; any other status: not processed yet.
_STATE_OF_STATUS = {"valid": "verified", "invalid": "invalid"}
# States that change by themselves once the photo arrives or is processed.
UNSETTLED = frozenset({"expected", "uploading"})


def photo_state(
    session: Session, owner_id: uuid.UUID, photo_id: str | None, sha256: str | None
) -> str | None:
    """Where the photo a record names stands: None if it names none, else one of
    expected / uploading / verified / mismatch / invalid. For a record that stores the
    state: an unsettled one is noted (:func:`note_unsettled`)."""
    if not photo_id:
        return None
    photo = find_photo(session, owner_id, photo_id)
    if photo is not None and sha256 and photo.sha256 != sha256:
        return "mismatch"
    if photo is not None:
        state = _STATE_OF_STATUS.get(photo.status, "uploading")
    else:
        state = photo_states(session, owner_id, [photo_id])[photo_id]
    note_unsettled(session, owner_id, {photo_id: state})
    return state


def photo_states(session: Session, owner_id: uuid.UUID, ids: Iterable[str]) -> dict[str, str]:
    """Each named photo's state (:func:`photo_state`'s, without the digest check), in two
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
        states[photo_id] = _STATE_OF_STATUS.get(status, "uploading")
    return states


# --- a record and its photo's processing, committing at the same moment -------------------
#
# A record that reads its photo as not yet processed, and the processing job, may commit
# in either order: the job commits the photo's state, *then* looks for the records naming
# it (media.jobs.process_photo). A record committed before that look-up is found by it; a
# record committed after it looks again itself, once committed, here. One of the two
# always sees the other, with no lock between them.

_UNSETTLED_KEY = "media.unsettled_photos"


def note_unsettled(session: Session, owner_id: uuid.UUID, states: Mapping[str, str]) -> None:
    """This transaction stores these photo states (photo id → state): those not settled
    yet are looked at again once it has committed."""
    unsettled = {(owner_id, p) for p, state in states.items() if state in UNSETTLED}
    if unsettled:
        session.info.setdefault(_UNSETTLED_KEY, set()).update(unsettled)


@event.listens_for(Session, "after_commit")
def settle_after_commit(session: Session) -> None:
    """Tell the records of this commit about photos processed while it ran."""
    unsettled: set[tuple[uuid.UUID, str]] = session.info.pop(_UNSETTLED_KEY, set())
    if not unsettled or not has_app_context():
        return
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    with database_of(app).unit_of_work() as uow:
        processed = uow.execute(
            sa.select(Photo.owner_id, Photo.photo_id).where(
                Photo.processed_at.is_not(None),
                sa.or_(
                    *(
                        sa.and_(Photo.owner_id == owner, Photo.photo_id == photo)
                        for owner, photo in unsettled
                    )
                ),
            )
        ).all()
        for owner_id, photo_id in processed:
            photo_changed.send(uow, owner_id=owner_id, photo_id=photo_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_unsettled(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the whole transaction: its records were never written
        session.info.pop(_UNSETTLED_KEY, None)


def claim(session: Session, owner_id: uuid.UUID, photo_id: str) -> None:
    """A record names this photo: it is no longer an orphan to clean up."""
    photo = find_photo(session, owner_id, photo_id)
    if photo is not None and photo.claimed_at is None:
        photo.claimed_at = utcnow()
