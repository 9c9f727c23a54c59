"""Media jobs: process a stored photo, expire abandoned uploads, remove unclaimed photos.

All idempotent (RQ delivers at least once): processing a processed photo does nothing.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from PIL import Image
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.events import photo_changed
from backend.extensions import settings_of
from backend.jobs import job
from backend.ops.metrics import PHOTOS_PROCESSED
from media import services
from media.images import process_image
from media.models import Photo, Upload
from media.s3 import S3Storage


def prepare_worker(app: Flask) -> None:
    """Before an RQ worker forks (see ``backend.jobs.Worker``), do once what every
    work-horse would otherwise do first: process a tiny image (Pillow registers its
    format plugins, the hashing code loads on first use) and make the S3 client (botocore
    reads its service models). Made here and never used here, the client is inherited
    with no connection open; each work-horse opens its own."""
    sample = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(sample, "JPEG")
    process_image(sample.getvalue(), max_pixels=settings_of(app).image_max_pixels)
    store = services.storage(app)
    if isinstance(store, S3Storage):
        assert store.client is not None


@job
def process_photo(session: Session, photo_pk: str) -> None:
    photo = session.get(Photo, uuid.UUID(photo_pk))
    if photo is None:
        return
    if photo.processed_at is None and not _process(session, photo):
        return  # another delivery of this job got here first (and tells the records)
    # Committed apart from processing: every record that read this photo as unprocessed
    # either committed before this look-up (found here) or commits after the photo's new
    # state (and then finds it itself: see media.services.settle_after_commit). Run again
    # on a retry, whether or not the first run got this far: telling the records is
    # idempotent.
    photo_changed.send(session, owner_id=photo.owner_id, photo_id=photo.photo_id)


def _process(session: Session, photo: Photo) -> bool:
    """Validate and derive ``photo``, and commit its new state; False if another delivery
    of the job did it meanwhile."""
    # Decode before taking the row lock: decoding takes up to a second. (A MemoryError is
    # left to fail the job, so RQ retries it on a worker with memory to spare.)
    store = services.storage()
    with store.open(photo.blob_key) as stream:
        report = process_image(stream.read(), max_pixels=settings_of(current_app).image_max_pixels)
    session.refresh(photo, with_for_update=True)
    if photo.processed_at is not None:
        return False
    photo.detected_format = report.format
    photo.width, photo.height = report.width, report.height
    photo.exif_taken_at = report.exif_taken_at
    photo.exif_gps_latitude = report.gps_latitude
    photo.exif_gps_longitude = report.gps_longitude
    photo.exif_device_model = (report.device_model or "")[:100] or None
    photo.phash = report.phash
    if report.valid and report.thumbnail is not None and report.view is not None:
        photo.thumb_key = services.derived_key(photo.sha256, "thumb.jpg")
        photo.view_key = services.derived_key(photo.sha256, "view.jpg")
        store.put(photo.thumb_key, io.BytesIO(report.thumbnail))
        store.put(photo.view_key, io.BytesIO(report.view))
        photo.status = "valid"
    else:
        photo.status = "invalid"
        photo.invalid_reason = report.reason[:500] or "not a usable image"
    photo.processed_at = utcnow()
    session.commit()
    PHOTOS_PROCESSED.labels(photo.status).inc()
    return True


@job
def expire_uploads(session: Session) -> None:
    from media.tus import expire_uploads as expire

    expire(session, services.storage(), utcnow())


@job
def remove_unclaimed_photos(session: Session) -> None:
    """Photos no record has named within the configured days are removed, bytes and all
    (unless another photo row shares the same bytes)."""
    days = settings_of(current_app).unclaimed_photo_days
    cutoff = utcnow() - timedelta(days=days)
    store = services.storage()
    stale = session.scalars(
        sa.select(Photo).where(Photo.claimed_at.is_(None), Photo.created_at < cutoff)
    ).all()
    for photo in stale:
        shared = session.scalar(
            sa.select(sa.func.count()).where(Photo.sha256 == photo.sha256, Photo.id != photo.id)
        )
        if not shared:
            for key in (photo.blob_key, photo.thumb_key, photo.view_key):
                if key:
                    store.delete(key)
        session.execute(sa.update(Upload).where(Upload.photo_pk == photo.id).values(photo_pk=None))
        session.delete(photo)
