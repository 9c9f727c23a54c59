"""Wire shapes of the auth API."""

from __future__ import annotations

from marshmallow import fields, validate

from backend.auth.models import ROLES
from backend.extensions import Schema

_username = validate.Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", error="3–64 letters, digits or _.@-")
_device_id = validate.Length(min=4, max=128)


class LoginArgs(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    device_id = fields.String(
        required=True,
        validate=_device_id,
        metadata={"description": "Stable id of the phone's app installation."},
    )
    device_name = fields.String(load_default="", validate=validate.Length(max=128))


class RefreshArgs(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=10, max=200))
    device_id = fields.String(required=True, validate=_device_id)


class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    username = fields.String(required=True, validate=_username)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    teacher_id = fields.UUID(allow_none=True, load_default=None)
    school_id = fields.UUID(allow_none=True, load_default=None)
    region_id = fields.UUID(allow_none=True, load_default=None)
    display_name = fields.String(load_default="", validate=validate.Length(max=100))
    active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class UserCreateArgs(UserSchema):
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=256)
    )


class UserPatchArgs(Schema):
    active = fields.Boolean(required=True)


class UserQueryArgs(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))


class DeviceSchema(Schema):
    id = fields.UUID(dump_only=True)
    user_id = fields.UUID(dump_only=True)
    device_id = fields.String(dump_only=True)
    device_name = fields.String(dump_only=True)
    first_seen_at = fields.DateTime(dump_only=True)
    last_seen_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})
    refresh_token = fields.String(required=True)
    refresh_expires_at = fields.DateTime(required=True)
    user = fields.Nested(UserSchema, required=True)
    device = fields.Nested(DeviceSchema, required=True)
