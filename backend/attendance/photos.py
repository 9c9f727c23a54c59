"""A check-in's photo: where it stands, and whether it is evidence or a reused picture.

Either the check-in or its photo may reach the server first; both paths end here. When
the photo is verified, it is compared with the same teacher's earlier photos and with the
photos of teachers at the same host school: the same bytes, or a perceptual hash within
``REUSE_DISTANCE`` (a re-saved or resized copy), flags ``photo_reused`` naming the earlier
photo; an EXIF capture time far from the check-in's own flags ``photo_time_mismatch``.
Flags explain themselves and never reject anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from backend.auth.models import User
from backend.clock import CHINA, today
from backend.events import photo_changed
from backend.exchange.models import Secondment
from media.images import REUSE_DISTANCE, phash_distance
from media.models import Photo
from media.services import claim, find_photo, photo_state

# A phone's clock and its camera's EXIF clock are the same clock; more than this apart
# means the photo was taken at another time than the punch.
TIME_MISMATCH = timedelta(minutes=10)


def _user_of(session: Session, teacher_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(sa.select(User.id).where(User.teacher_id == teacher_id))


def refresh(session: Session, check_ins: Iterable[CheckIn]) -> None:
    """Recompute the photo state of these check-ins (and check a newly verified photo)."""
    for check_in in check_ins:
        owner = _user_of(session, check_in.teacher_id)
        if owner is None or not check_in.photo_id:
            continue
        state = photo_state(session, owner, check_in.photo_id, check_in.photo_sha256)
        claim(session, owner, check_in.photo_id)
        if state == check_in.photo_state:
            continue
        check_in.photo_state = state
        if state == "verified":
            photo = find_photo(session, owner, check_in.photo_id)
            assert photo is not None
            _check_evidence(session, check_in, photo)


def refresh_ids(session: Session, teacher_id: uuid.UUID, ids: list[str]) -> None:
    rows = session.scalars(
        sa.select(CheckIn).where(
            CheckIn.id.in_(ids), CheckIn.teacher_id == teacher_id, CheckIn.photo_id.is_not(None)
        )
    )
    refresh(session, rows)


@photo_changed.connect
def _on_photo_changed(session: Any, owner_id: uuid.UUID, photo_id: str) -> None:
    teacher_id = session.scalar(sa.select(User.teacher_id).where(User.id == owner_id))
    if teacher_id is None:
        return
    refresh(
        session,
        session.scalars(
            sa.select(CheckIn).where(CheckIn.teacher_id == teacher_id, CheckIn.photo_id == photo_id)
        ),
    )


def _flag(check_in: CheckIn, code: str, reason: str) -> None:
    if not any(f.get("code") == code for f in check_in.flags):
        check_in.flags = [*check_in.flags, {"code": code, "reason": reason}]


def _peer_owners(session: Session, teacher_id: uuid.UUID) -> sa.Select[Any]:
    """Users of the teacher and of the teachers seconded to the same host school now."""
    day = today()
    active = sa.and_(
        Secondment.status == "active", Secondment.start_on <= day, Secondment.end_on >= day
    )
    hosts = sa.select(Secondment.host_school_id).where(Secondment.teacher_id == teacher_id, active)
    peers = sa.select(Secondment.teacher_id).where(Secondment.host_school_id.in_(hosts), active)
    return sa.select(User.id).where(
        sa.or_(User.teacher_id == teacher_id, User.teacher_id.in_(peers))
    )


def _check_evidence(session: Session, check_in: CheckIn, photo: Photo) -> None:
    earlier = session.scalars(
        sa.select(Photo).where(
            Photo.owner_id.in_(_peer_owners(session, check_in.teacher_id)),
            Photo.id != photo.id,
            Photo.status == "valid",
            Photo.created_at <= photo.created_at,
        )
    ).all()
    for other in earlier:
        same = other.sha256 == photo.sha256
        near = bool(other.phash and photo.phash) and (
            phash_distance(other.phash or "", photo.phash or "") <= REUSE_DISTANCE
        )
        if same or near:
            how = "the same file" if same else "a re-saved or resized copy"
            _flag(
                check_in,
                "photo_reused",
                f"photo is {how} of photo {other.photo_id} uploaded {other.created_at:%Y-%m-%d}",
            )
            break
    taken = _exif_time(photo.exif_taken_at)
    if taken is not None:
        captured = datetime.fromtimestamp(check_in.captured_at / 1000, tz=CHINA)
        gap = abs(captured - taken)
        if gap > TIME_MISMATCH:
            _flag(
                check_in,
                "photo_time_mismatch",
                f"photo taken {taken:%Y-%m-%d %H:%M}, check-in at {captured:%Y-%m-%d %H:%M}"
                f" ({int(gap.total_seconds() // 60)} min apart)",
            )


def _exif_time(value: str | None) -> datetime | None:
    """EXIF times carry no zone unless OffsetTime says so: phones here are on China time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)
