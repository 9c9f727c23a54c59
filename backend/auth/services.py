"""Log in, refresh with rotation and reuse detection, log out, revoke devices, create users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.auth.models import ROLES, Device, RefreshToken, User
from backend.auth.passwords import hash_password, needs_rehash, verify_password
from backend.auth.policy import (
    DEVICE_REVOKED,
    Action,
    Principal,
    Resource,
    get_scoped,
    in_scope,
)
from backend.auth.throttle import LoginThrottle
from backend.auth.tokens import digest, expires_in, issue_access_token, new_refresh_token
from backend.config import Settings
from backend.db import utcnow
from backend.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)


class RefreshTokenReused(AuthenticationFailed):
    # The family's revocation is the point of detecting reuse: keep it though the request fails.
    keep_changes = True


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime
    user: User
    device: Device


def _issue(
    session: Session, settings: Settings, user: User, device: Device, family: uuid.UUID
) -> TokenPair:
    now = utcnow()
    raw = new_refresh_token()
    token = RefreshToken(
        token_hash=digest(raw),
        family_id=family,
        user_id=user.id,
        device_pk=device.id,
        issued_at=now,
        expires_at=expires_in(settings, now),
    )
    session.add(token)
    device.last_seen_at = now
    session.flush()
    return TokenPair(
        access_token=issue_access_token(settings, user.id, device.id),
        expires_in=int(settings.access_token_ttl.total_seconds()),
        refresh_token=raw,
        refresh_expires_at=token.expires_at,
        user=user,
        device=device,
    )


def login(
    session: Session,
    settings: Settings,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    device_id: str,
    device_name: str,
    client_ip: str,
) -> TokenPair:
    if not throttle.allow_ip(client_ip):
        raise TooManyAttempts("Too many login attempts from this address; wait a minute", 60)
    if not throttle.allow_account(username):
        raise TooManyAttempts(
            "Too many failed logins for this account; wait and try again",
            throttle.retry_after(username),
        )
    user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
    # Always verify (a dummy hash for unknown users) so timing does not reveal accounts.
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise AuthenticationFailed("Wrong username or password", code="bad_credentials")
    throttle.forget_account(username)
    if not user.active:
        raise AuthenticationFailed("Account disabled", code="account_disabled")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    device = session.scalars(
        sa.select(Device).where(Device.user_id == user.id, Device.device_id == device_id)
    ).one_or_none()
    if device is None:
        device = Device(user_id=user.id, device_id=device_id, device_name=device_name)
        session.add(device)
        session.flush()
    elif device.revoked_at is not None:
        raise AuthenticationFailed(DEVICE_REVOKED, code="device_revoked")
    elif device_name:
        device.device_name = device_name
    return _issue(session, settings, user, device, uuid.uuid4())


def _revoke_family(session: Session, family_id: uuid.UUID, reason: str) -> None:
    session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def _successors(session: Session, token: RefreshToken) -> list[RefreshToken]:
    return list(
        session.scalars(
            sa.select(RefreshToken).where(
                RefreshToken.family_id == token.family_id,
                RefreshToken.issued_at > token.issued_at,
            )
        )
    )


def _is_lost_response_retry(
    session: Session, settings: Settings, token: RefreshToken, now: datetime
) -> bool:
    """A spent token presented again within the grace period, its successor never used."""
    assert token.used_at is not None
    if token.revoked_at is not None or now - token.used_at > settings.refresh_retry_grace:
        return False
    # Every answer since was lost too (each retry voided the one before): still a retry.
    return all(
        s.used_at is None and (s.revoked_at is None or s.revoked_reason == "superseded_by_retry")
        for s in _successors(session, token)
    )


def _revoke_successors(session: Session, token: RefreshToken, reason: str) -> None:
    for successor in _successors(session, token):
        if successor.revoked_at is None:
            successor.revoked_at = utcnow()
            successor.revoked_reason = reason


def refresh(
    session: Session, settings: Settings, *, refresh_token: str, device_id: str
) -> TokenPair:
    """Spend ``refresh_token`` for a new pair. A spent token presented again revokes its family.

    The row is locked so that two concurrent refreshes with one token cannot both succeed.
    """
    token = session.scalars(
        sa.select(RefreshToken)
        .where(RefreshToken.token_hash == digest(refresh_token))
        .with_for_update()
    ).one_or_none()
    if token is None:
        raise AuthenticationFailed("Unknown refresh token", code="refresh_invalid")
    now = utcnow()
    if token.used_at is not None:
        if _is_lost_response_retry(session, settings, token, now):
            # The phone never got our answer (a dropped 2G link) and asks again: replace the
            # answer it lost rather than lock it out, which would force a password login.
            _revoke_successors(session, token, "superseded_by_retry")
        else:
            # Reuse: someone holds a copy. Revoke every token of the family, thief's and ours.
            _revoke_family(session, token.family_id, "reuse_detected")
            session.flush()
            raise RefreshTokenReused(
                "Refresh token reuse detected; log in again", code="refresh_reused"
            )
    if token.revoked_at is not None or token.expires_at <= now:
        raise AuthenticationFailed(
            "Refresh token expired or revoked; log in again", code="refresh_invalid"
        )
    device = session.get(Device, token.device_pk)
    user = session.get(User, token.user_id)
    if device is None or user is None or device.device_id != device_id:
        raise AuthenticationFailed(
            "Refresh token belongs to another device", code="device_mismatch"
        )
    if device.revoked_at is not None:
        raise AuthenticationFailed(DEVICE_REVOKED, code="device_revoked")
    if not user.active:
        raise AuthenticationFailed("Account disabled", code="account_disabled")
    token.used_at = now
    return _issue(session, settings, user, device, token.family_id)


def logout(session: Session, principal: Principal) -> None:
    """End every session of the caller's current device, access tokens included.

    The device may log in again at once (tokens issued from then on are valid).
    """
    device = session.get(Device, principal.device_pk)
    if device is not None:
        device.sessions_ended_at = utcnow()
    session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.device_pk == principal.device_pk, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout")
    )


def restore_device(session: Session, principal: Principal, device_pk: uuid.UUID) -> Device:
    """A revoked phone was found: it may log in again (its old tokens stay dead)."""
    if principal.role not in ("bureau_admin", "school_admin"):
        raise PermissionDenied("only an administrator restores a revoked device")
    device: Device = get_scoped(session, principal, Resource.DEVICE, Action.WRITE, device_pk)
    if device.revoked_at is None:
        raise Conflict("this device is not revoked")
    device.revoked_at = None
    device.revoked_by_id = None
    device.sessions_ended_at = utcnow()  # whatever it held before stays invalid
    session.flush()
    return device


def revoke_device(session: Session, principal: Principal, device_pk: uuid.UUID) -> Device:
    """Lost phone: the device's tokens stop working at once and it cannot log in again."""
    device: Device = get_scoped(session, principal, Resource.DEVICE, Action.WRITE, device_pk)
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_by_id = principal.user_id
    session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.device_pk == device.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="device_revoked")
    )
    session.flush()
    return device


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    role: str
    teacher_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None
    display_name: str = ""


_ANCHOR = {
    "teacher": ("teacher_id", Resource.TEACHER),
    "school_admin": ("school_id", Resource.SCHOOL),
    "inspector": ("region_id", Resource.REGION),
    "bureau_admin": ("region_id", Resource.REGION),
}


def validate_new_user(settings: Settings, new: NewUser) -> None:
    if new.role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if len(new.password) < settings.password_min_length:
        raise InvalidInput(
            f"password must have at least {settings.password_min_length} characters",
            field="password",
        )
    anchor, _ = _ANCHOR[new.role]
    for name in ("teacher_id", "school_id", "region_id"):
        given = getattr(new, name) is not None
        if name == anchor and not given:
            raise InvalidInput(f"a {new.role} needs {name}", field=name)
        if name != anchor and given:
            raise InvalidInput(f"a {new.role} takes no {name}", field=name)


def create_user(
    session: Session, settings: Settings, new: NewUser, principal: Principal | None = None
) -> User:
    """Create a login. With a principal (the API), its anchor must lie within their scope."""
    validate_new_user(settings, new)
    anchor, resource = _ANCHOR[new.role]
    anchor_id: uuid.UUID = getattr(new, anchor)
    if principal is not None and not in_scope(session, principal, resource, Action.READ, anchor_id):
        raise InvalidInput(f"{anchor} {anchor_id} not found in your scope", field=anchor)
    if session.scalar(sa.select(sa.exists().where(User.username == new.username))):
        raise Conflict(f"username {new.username!r} is taken", field="username")
    if new.teacher_id and session.scalar(
        sa.select(sa.exists().where(User.teacher_id == new.teacher_id))
    ):
        raise Conflict("this teacher already has a login", field="teacher_id")
    user = User(
        username=new.username,
        password_hash=hash_password(new.password),
        role=new.role,
        teacher_id=new.teacher_id,
        school_id=new.school_id,
        region_id=new.region_id,
        display_name=new.display_name,
    )
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, principal: Principal, user_id: uuid.UUID, active: bool) -> User:
    user: User = get_scoped(session, principal, Resource.USER, Action.WRITE, user_id)
    if user.id == principal.user_id and not active:
        raise InvalidInput("you cannot disable your own account", field="active")
    user.active = active
    session.flush()
    return user


def find_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}")
    return user
