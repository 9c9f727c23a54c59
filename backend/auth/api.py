"""Auth endpoints for phones and admins: login, refresh, logout, me, users and devices."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request
from flask.views import MethodView

from backend.auth import services
from backend.auth.models import Device, User
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    public,
    requires,
    scoped_select,
)
from backend.auth.schemas import (
    DeviceSchema,
    LoginArgs,
    RefreshArgs,
    TokenSchema,
    UserCreateArgs,
    UserPatchArgs,
    UserQueryArgs,
    UserSchema,
)
from backend.auth.throttle import LoginThrottle
from backend.db import db
from backend.extensions import Blueprint, settings_of
from backend.pagination import PageArgs, page_schema, paginate

THROTTLE_KEY = "ucomm.login_throttle"

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in from a phone")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Logins")
devices_blp = Blueprint(
    "devices", __name__, url_prefix="/api/v1/devices", description="Phones users log in from"
)

UserPage = page_schema(UserSchema, "UserPage")
DevicePage = page_schema(DeviceSchema, "DevicePage")
_NO_AUTH: list[dict[str, list[str]]] = []


def _throttle() -> LoginThrottle:
    throttle: LoginThrottle = current_app.extensions[THROTTLE_KEY]
    return throttle


def _tokens(pair: services.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "refresh_expires_at": pair.refresh_expires_at,
        "user": pair.user,
        "device": pair.device,
    }


@blp.route("/login")
class Login(MethodView):
    @public
    @blp.doc(security=_NO_AUTH)
    @blp.arguments(LoginArgs)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Wrong username or password")
    @blp.alt_response(429, description="Too many attempts (per account and per IP)")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Log in from a device: a short-lived access token and a device-bound refresh token."""
        pair = services.login(
            db.session,
            settings_of(current_app),
            _throttle(),
            username=args["username"],
            password=args["password"],
            device_id=args["device_id"],
            device_name=args["device_name"],
            client_ip=request.remote_addr or "unknown",
        )
        return _tokens(pair)


@blp.route("/refresh")
class Refresh(MethodView):
    @public
    @blp.doc(security=_NO_AUTH)
    @blp.arguments(RefreshArgs)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Expired, revoked, reused or foreign refresh token")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Rotate: spend the refresh token for a new pair. Reusing a spent one revokes all."""
        pair = services.refresh(
            db.session,
            settings_of(current_app),
            refresh_token=args["refresh_token"],
            device_id=args["device_id"],
        )
        return _tokens(pair)


@blp.route("/logout")
class Logout(MethodView):
    @requires(None)
    @blp.response(204)
    def post(self) -> None:
        """End this device's sessions: its access and refresh tokens stop working now."""
        services.logout(db.session, current_principal())


@blp.route("/me")
class Me(MethodView):
    @requires(None)
    @blp.response(200, UserSchema)
    def get(self) -> User:
        """The logged-in user and their scope anchor."""
        return services.find_user(db.session, current_principal().user_id)


@users_blp.route("")
class Users(MethodView):
    @requires(Resource.USER, Action.READ)
    @users_blp.arguments(UserQueryArgs, location="query")
    @users_blp.arguments(PageArgs, location="query")
    @users_blp.response(200, UserPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Logins within your scope."""
        stmt = scoped_select(current_principal(), Resource.USER, Action.READ)
        if "role" in query:
            stmt = stmt.where(User.role == query["role"])
        return paginate(db.session, stmt, User.id, page)

    @requires(Resource.USER, Action.WRITE)
    @users_blp.arguments(UserCreateArgs)
    @users_blp.response(201, UserSchema)
    def post(self, args: dict[str, Any]) -> User:
        """Create a login whose anchor (teacher, school or region) is within your scope."""
        return services.create_user(
            db.session, settings_of(current_app), services.NewUser(**args), current_principal()
        )


@users_blp.route("/<uuid:user_id>")
class UserById(MethodView):
    @requires(Resource.USER, Action.READ)
    @users_blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID) -> User:
        user: User = get_scoped(
            db.session, current_principal(), Resource.USER, Action.READ, user_id
        )
        return user

    @requires(Resource.USER, Action.WRITE)
    @users_blp.arguments(UserPatchArgs)
    @users_blp.response(200, UserSchema)
    def patch(self, args: dict[str, Any], user_id: uuid.UUID) -> User:
        """Disable or re-enable a login."""
        return services.set_active(db.session, current_principal(), user_id, args["active"])


@devices_blp.route("")
class Devices(MethodView):
    @requires(Resource.DEVICE, Action.READ)
    @devices_blp.arguments(PageArgs, location="query")
    @devices_blp.response(200, DevicePage)
    def get(self, page: dict[str, Any]) -> dict[str, Any]:
        """Devices you may see: your own, and those of users you administer."""
        stmt = scoped_select(current_principal(), Resource.DEVICE, Action.READ)
        return paginate(db.session, stmt, Device.id, page)


@devices_blp.route("/<uuid:device_pk>/revoke")
class RevokeDevice(MethodView):
    @requires(Resource.DEVICE, Action.WRITE)
    @devices_blp.response(200, DeviceSchema)
    def post(self, device_pk: uuid.UUID) -> Device:
        """Lost phone: its tokens stop working at once; it cannot log in again."""
        return services.revoke_device(db.session, current_principal(), device_pk)


@devices_blp.route("/<uuid:device_pk>/restore")
class RestoreDevice(MethodView):
    @requires(Resource.DEVICE, Action.WRITE)
    @devices_blp.response(200, DeviceSchema)
    def post(self, device_pk: uuid.UUID) -> Device:
        """A revoked phone was found: it may log in again; its old tokens stay void."""
        return services.restore_device(db.session, current_principal(), device_pk)
