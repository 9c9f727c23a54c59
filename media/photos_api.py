"""Reading photo evidence: derivatives only, through signed, expiring, scope-checked URLs.

Originals stay private (they may carry GPS in EXIF and anything else a file can hide).
A caller who may see a photo asks for a URL; the URL itself is the permission for a few
minutes (so an <img> tag or a phone's image cache can fetch it without the token), and
the bytes are served as JPEG with ``nosniff``.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, url_for
from flask.views import MethodView
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from marshmallow import fields, validate

from backend.auth.models import User
from backend.auth.policy import (
    Action,
    Resource,
    check_in_photos,
    current_principal,
    public,
    requires,
    scope,
)
from backend.db import db
from backend.errors import NotFound
from backend.extensions import Blueprint, Schema, settings_of
from media import services
from media.models import Photo

URL_LIFETIME_SECONDS = 600
SIZES = {"thumb": "thumb_key", "view": "view_key"}

photos_blp = Blueprint(
    "photos", __name__, url_prefix="/api/v1/photos", description="Photo evidence (derivatives)"
)


class PhotoSchema(Schema):
    id = fields.UUID()
    photo_id = fields.String()
    owner_id = fields.UUID()
    sha256 = fields.String()
    status = fields.String()
    invalid_reason = fields.String()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    exif_taken_at = fields.String(allow_none=True)
    exif_device_model = fields.String(allow_none=True)
    created_at = fields.DateTime()


class UrlArgs(Schema):
    size = fields.String(load_default="view", validate=validate.OneOf(sorted(SIZES)))


class SignedUrl(Schema):
    url = fields.String()
    expires_in = fields.Integer()


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings_of(current_app).secret_key, salt="media-derivative")


def _visible_photo(photo_pk: uuid.UUID) -> Photo:
    """The caller's own photos, those of the users they administer, and those named by
    check-ins they may read (a host school judging its exchange teachers' punches)."""
    principal = current_principal()
    stmt = sa.select(Photo).where(Photo.id == photo_pk)
    owners = [Photo.owner_id == principal.user_id, Photo.id.in_(check_in_photos(principal))]
    if principal.role in ("bureau_admin", "school_admin"):
        users = sa.select(User.id).where(scope(principal, Resource.USER, Action.READ))
        owners.append(Photo.owner_id.in_(users))
    photo = db.session.scalars(stmt.where(sa.or_(*owners))).one_or_none()
    if photo is None:
        raise NotFound(f"No photo {photo_pk}")
    return photo


@photos_blp.route("/<uuid:photo_pk>")
class PhotoById(MethodView):
    @requires(None)
    @photos_blp.response(200, PhotoSchema)
    def get(self, photo_pk: uuid.UUID) -> Photo:
        """A photo's processing result and its EXIF claims (GPS is never shown)."""
        return _visible_photo(photo_pk)


@photos_blp.route("/<uuid:photo_pk>/url")
class PhotoUrl(MethodView):
    @requires(None)
    @photos_blp.arguments(UrlArgs, location="query")
    @photos_blp.response(200, SignedUrl)
    def get(self, args: dict[str, Any], photo_pk: uuid.UUID) -> dict[str, Any]:
        """A URL of the 400 px thumbnail or the 1600 px view, valid for ten minutes."""
        photo = _visible_photo(photo_pk)
        if getattr(photo, SIZES[args["size"]]) is None:
            raise NotFound("this photo has no derivatives (not processed, or not an image)")
        token = _signer().dumps({"p": str(photo.id), "s": args["size"]})
        return {
            "url": url_for("photos.derivative", token=token, _external=True),
            "expires_in": URL_LIFETIME_SECONDS,
        }


@photos_blp.route("/signed/<token>", endpoint="derivative")
@public
def derivative(token: str) -> Response:
    """The bytes behind a signed URL (no bearer token: the signature is the permission)."""
    try:
        claim = _signer().loads(token, max_age=URL_LIFETIME_SECONDS)
        photo_pk, size = uuid.UUID(claim["p"]), claim["s"]
        key_attr = SIZES[size]
    except SignatureExpired as exc:
        raise NotFound("this photo link has expired; ask for a new one") from exc
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise NotFound("no such photo link") from exc
    photo = db.session.get(Photo, photo_pk)
    key = getattr(photo, key_attr, None) if photo is not None else None
    if not key:
        raise NotFound("no such photo link")
    with services.storage().open(key) as stream:
        body = stream.read()
    response = Response(body, mimetype="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = f"private, max-age={URL_LIFETIME_SECONDS}"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
