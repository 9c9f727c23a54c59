"""A stored photo is processed after commit, and the check-in naming it learns its state,
whichever of the two reached the server first; reused and mistimed photos are flagged."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import datetime, timedelta
from unittest import mock

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from backend.attendance.models import CheckIn
from backend.clock import CHINA
from backend.db import database_of, utcnow
from backend.extensions import settings_of
from media import services
from media.jobs import remove_unclaimed_photos
from media.models import Photo, Upload
from tests.factories import World
from tests.sync.phone import Phone, check_in, phone_for

# A minute ago (on time, so the only flags a test sees are the photo's own).
CAPTURED = datetime.now(CHINA).replace(second=0, microsecond=0) - timedelta(minutes=1)


def photo_bytes(
    seed: int, *, taken: datetime = CAPTURED, size: tuple[int, int] = (1200, 900)
) -> bytes:
    """A JPEG with an EXIF capture time; different seeds draw different scenes."""
    image = Image.new("RGB", size, (40 + seed * 30 % 200, 90, 160))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x = (seed * 97 + i * 131) % size[0]
        y = (seed * 53 + i * 71) % size[1]
        draw.ellipse(
            (x, y, x + 150, y + 110), fill=((i * 40 + seed * 17) % 255, 200 - i * 9, i * 20)
        )
    exif = Image.Exif()
    exif[0x0132] = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def store_photo(app: Flask, owner_id: uuid.UUID, photo_id: str, data: bytes) -> None:
    """What the tus endpoint does on the last byte, in one committed unit of work."""
    sha = hashlib.sha256(data).hexdigest()
    with app.app_context(), database_of(app).unit_of_work() as uow:
        upload = Upload(
            owner_id=owner_id,
            photo_id=photo_id,
            declared_sha256=sha,
            content_type="image/jpeg",
            length=len(data),
            expires_at=utcnow() + timedelta(days=1),
        )
        uow.add(upload)
        uow.flush()
        services.complete_upload(uow, services.storage(app), upload, io.BytesIO(data))


def _check_in(session: Session, record_id: str) -> CheckIn:
    session.expire_all()
    row = session.get(CheckIn, record_id)
    assert row is not None
    return row


def _push(phone: Phone, *records: dict[str, object]) -> None:
    phone.pull()
    response = phone.push_request(
        {"check_ins": {"created": list(records), "updated": [], "deleted": []}}
    )
    assert response.status_code == 200, response.json


def test_photo_is_processed_after_commit(app: Flask, session: Session, world: World) -> None:
    owner = world.users["teacher_a"].id
    store_photo(app, owner, "pic-1", photo_bytes(1))
    photo = session.scalars(sa.select(Photo).where(Photo.photo_id == "pic-1")).one()
    assert photo.status == "valid" and photo.detected_format == "JPEG"
    assert photo.exif_taken_at == CAPTURED.strftime("%Y-%m-%dT%H:%M:%S")
    assert photo.phash and photo.thumb_key and photo.view_key
    store = services.storage(app)
    with store.open(photo.thumb_key) as thumb:
        derivative = Image.open(thumb)
        assert max(derivative.size) <= 400 and not derivative.getexif()


def test_check_in_first_then_photo(
    app: Flask, session: Session, world: World, phone: Phone
) -> None:
    data = photo_bytes(2)
    sha = hashlib.sha256(data).hexdigest()
    _push(
        phone,
        check_in(
            "withpic000000001",
            photo_id="pic-2",
            photo_sha256=sha,
            captured_at=int(CAPTURED.timestamp() * 1000),
        ),
    )
    assert _check_in(session, "withpic000000001").photo_state == "expected"
    store_photo(app, world.users["teacher_a"].id, "pic-2", data)
    assert _check_in(session, "withpic000000001").photo_state == "verified"
    pulled = {r["id"]: r for r in phone.pull()["changes"]["check_ins"]["updated"]}
    assert pulled["withpic000000001"]["photo_state"] == "verified"


def test_photo_first_then_check_in(
    app: Flask, session: Session, world: World, phone: Phone
) -> None:
    data = photo_bytes(3)
    store_photo(app, world.users["teacher_a"].id, "pic-3", data)
    sha = hashlib.sha256(data).hexdigest()
    _push(
        phone,
        check_in(
            "withpic000000002",
            photo_id="pic-3",
            photo_sha256=sha,
            captured_at=int(CAPTURED.timestamp() * 1000),
        ),
    )
    row = _check_in(session, "withpic000000002")
    assert row.photo_state == "verified" and row.flags == []


def test_mismatch_and_invalid(app: Flask, session: Session, world: World, phone: Phone) -> None:
    owner = world.users["teacher_a"].id
    store_photo(app, owner, "pic-4", photo_bytes(4))
    store_photo(app, owner, "pic-5", b"%PDF-1.7 not an image at all")
    _push(
        phone,
        check_in("mism000000000001", photo_id="pic-4", photo_sha256="0" * 64),
        check_in("inva000000000001", photo_id="pic-5"),
    )
    assert _check_in(session, "mism000000000001").photo_state == "mismatch"
    assert _check_in(session, "inva000000000001").photo_state == "invalid"
    bad = session.scalars(sa.select(Photo).where(Photo.photo_id == "pic-5")).one()
    assert bad.status == "invalid" and bad.invalid_reason


def test_reused_photo_is_flagged_with_the_earlier_one(
    app: Flask, session: Session, world: World, phone: Phone
) -> None:
    owner = world.users["teacher_a"].id
    original = photo_bytes(6)
    store_photo(app, owner, "pic-6", original)
    image = Image.open(io.BytesIO(original))
    copy = io.BytesIO()
    image.resize((600, 450)).save(copy, "JPEG", quality=70)  # re-saved, resized: new bytes
    store_photo(app, owner, "pic-7", copy.getvalue())
    sha = hashlib.sha256(copy.getvalue()).hexdigest()
    _push(phone, check_in("reuse00000000001", photo_id="pic-7", photo_sha256=sha))
    flags = _check_in(session, "reuse00000000001").flags
    reused = [f for f in flags if f["code"] == "photo_reused"]
    assert reused and "pic-6" in reused[0]["reason"]


def test_photo_taken_long_before_the_punch_is_flagged(
    app: Flask, session: Session, world: World, phone: Phone
) -> None:
    data = photo_bytes(8, taken=CAPTURED - timedelta(days=3))
    store_photo(app, world.users["teacher_a"].id, "pic-8", data)
    _push(
        phone,
        check_in(
            "late000000000001", photo_id="pic-8", captured_at=int(CAPTURED.timestamp() * 1000)
        ),
    )
    codes = [f["code"] for f in _check_in(session, "late000000000001").flags]
    assert codes == ["photo_time_mismatch"]


def test_unclaimed_photos_are_removed_claimed_ones_stay(
    app: Flask, session: Session, world: World, phone: Phone
) -> None:
    owner = world.users["teacher_a"].id
    store_photo(app, owner, "pic-9", photo_bytes(9))
    store_photo(app, owner, "pic-10", photo_bytes(10))
    _push(phone, check_in("claim00000000001", photo_id="pic-10"))
    session.execute(sa.update(Photo).values(created_at=utcnow() - timedelta(days=90)))
    session.commit()
    with app.app_context():
        remove_unclaimed_photos()
    session.expire_all()
    left = set(session.scalars(sa.select(Photo.photo_id).where(Photo.owner_id == owner)))
    assert left == {"pic-10"}


def test_derivatives_are_served_by_signed_expiring_urls_in_scope(
    app: Flask, session: Session, world: World, client: FlaskClient
) -> None:
    owner = world.users["teacher_a"].id
    store_photo(app, owner, "pic-11", photo_bytes(11))
    photo = session.scalars(sa.select(Photo).where(Photo.photo_id == "pic-11")).one()
    own = client.get(
        f"/api/v1/photos/{photo.id}/url?size=thumb", headers=world.headers["teacher_a"]
    )
    assert own.status_code == 200, own.json
    assert own.json is not None
    url = own.json["url"]
    served = client.get(url)  # no bearer token: the signature is the permission
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert not Image.open(io.BytesIO(served.data)).getexif()
    # In scope: the teacher's school admin and bureau; out of scope: everyone else.
    assert (
        client.get(
            f"/api/v1/photos/{photo.id}/url", headers=world.headers["school_admin_a"]
        ).status_code
        == 200
    )
    assert (
        client.get(f"/api/v1/photos/{photo.id}/url", headers=world.headers["bureau_a"]).status_code
        == 200
    )
    for other in ("teacher_a2", "teacher_b", "bureau_b", "school_admin_b"):
        assert (
            client.get(f"/api/v1/photos/{photo.id}/url", headers=world.headers[other]).status_code
            == 404
        )
    # A tampered or expired link serves nothing.
    assert client.get(url[:-3] + "xyz").status_code == 404
    token = url.rsplit("/", 1)[1]
    signer = URLSafeTimedSerializer(settings_of(app).secret_key, salt="media-derivative")
    payload = signer.loads(token)
    with mock.patch("time.time", return_value=0):
        old = signer.dumps(payload)
    assert client.get(f"/api/v1/photos/signed/{old}").status_code == 404


def test_the_host_school_sees_the_photo_of_a_punch_it_judges(
    app: Flask, session: Session, world: World, client: FlaskClient, phone: Phone
) -> None:
    """Teacher A's home school is core A; the host school (member A) keeps the punches and
    reviews their flags, so it sees the photos its teachers' check-ins name — and no other
    photo of theirs."""
    owner = world.users["teacher_a"].id
    data = photo_bytes(12)
    store_photo(app, owner, "pic-punch", data)
    store_photo(app, owner, "pic-private", photo_bytes(13))
    _push(
        phone,
        check_in(
            "withpic000000012",
            photo_id="pic-punch",
            photo_sha256=hashlib.sha256(data).hexdigest(),
            captured_at=int(CAPTURED.timestamp() * 1000),
        ),
    )
    named, private = (
        session.scalars(sa.select(Photo.id).where(Photo.photo_id == name)).one()
        for name in ("pic-punch", "pic-private")
    )

    def status(persona: str, photo_pk: uuid.UUID) -> int:
        response = client.get(f"/api/v1/photos/{photo_pk}/url", headers=world.headers[persona])
        return response.status_code

    assert status("host_admin_a", named) == 200
    assert status("host_admin_a", private) == 404  # not named by a punch it may read
    for outsider in ("school_admin_b", "bureau_b", "teacher_a2", "teacher_b"):
        assert status(outsider, named) == 404, outsider
    # Another teacher's punch naming the same client photo id grants nothing.
    other = phone_for(client, session, world, "teacher_b")
    other.pull()
    response = other.push_request(
        {
            "check_ins": {
                "created": [check_in("withpic000000013", photo_id="pic-private")],
                "updated": [],
                "deleted": [],
            }
        }
    )
    assert response.status_code == 200
    assert status("school_admin_b", private) == 404


def test_a_record_committing_after_its_photos_job_looked_finds_the_photo_itself(
    app: Flask, session: Session, world: World, phone: Phone
) -> None:
    """The race the scale-out run found: a push reads its photo as unprocessed, the photo
    job commits the photo and looks for records (not seeing the push's, uncommitted), then
    the push commits. The push looks again once committed, so the check-in is verified."""
    owner = world.users["teacher_a"].id
    data = photo_bytes(14)
    sha = hashlib.sha256(data).hexdigest()
    _push(
        phone,
        check_in(
            "withpic000000014",
            photo_id="pic-race",
            photo_sha256=sha,
            captured_at=int(CAPTURED.timestamp() * 1000),
        ),
    )
    # The photo arrives and is processed, but nobody tells the check-in (the job's look-up
    # ran before the push committed).
    with mock.patch.object(services, "photo_changed"), mock.patch("media.jobs.photo_changed"):
        store_photo(app, owner, "pic-race", data)
    assert _check_in(session, "withpic000000014").photo_state in ("expected", "uploading")

    # The push's transaction as it was: it read the photo while unprocessed…
    with app.app_context(), database_of(app).unit_of_work() as push:
        services.note_unsettled(push, owner, {"pic-race": "uploading"})
    # …and, committed, looked again.
    assert _check_in(session, "withpic000000014").photo_state == "verified"
